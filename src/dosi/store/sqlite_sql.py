"""EntityQuery -> SQLite WHERE clause (JSON1 for q, R*Tree + shapely for geo)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from dosi.ngsild.geo import candidate_boxes
from dosi.ngsild.model import SCOPE
from dosi.ngsild.query import (
    And,
    AttrPath,
    Comparison,
    Exists,
    GeoQuery,
    Or,
    QNode,
    Range,
    ScopeTerm,
    TypeExpr,
    scope_regex,
)
from dosi.store.base import EntityQuery, Selector, indexed_comparison, single_type
from dosi.store.history_sql import LATEST_FIRST

GEO_SLOTS = 1024  # R*Tree ids: seq * GEO_SLOTS + the geometry's slot
_COMPARE = {"==": "=", "!=": "!=", ">": ">", ">=": ">=", "<": "<", "<=": "<="}
_META_PATHS = {"observedAt", "createdAt", "modifiedAt", "unitCode", "datasetId"}


def json_key(name: str) -> str:
    return '"' + name.replace('"', "") + '"'


def _sql_value(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


class SqliteWhere:
    """`estimate(rows, params)`: True when few index rows match (`rows` is a FROM and WHERE; None: no estimates,
    and no value index)."""

    def __init__(
        self, params: list[Any] | None = None, estimate: Callable[[str, list[Any]], bool] | None = None
    ) -> None:
        self.clauses: list[str] = []
        self.params: list[Any] = params if params is not None else []
        self.estimate = estimate
        self.tenant = ""
        self.single_type: str | None = None
        self.source = "entities e"
        self.order_key = "e.seq"
        self._of_type = "e.seq IN (SELECT t.seq FROM entity_types t WHERE t.tenant = ? AND t.type = ?)"

    def build(self, query: EntityQuery) -> tuple[str, list[Any]]:
        single = self.single_type = single_type(query) if query.ids is None else None
        if query.ids is not None:
            # a list of ids is looked up on its unique index, whatever else filters. Without statistics the
            # planner takes `tenant = ?` for a handful of rows and walks the whole tenant in seq order instead
            # (1.3 s for 500 ids among a million entities). Their types are then checked one entity at a time,
            # not by listing every entity of the type first (250 ms for a type of 250,000)
            self.source = "entities e INDEXED BY entities_tenant_id"
            self._of_type = "EXISTS (SELECT 1 FROM entity_types t WHERE t.tenant = ? AND t.type = ? AND t.seq = e.seq)"
        elif single is not None:
            # walk the (tenant, type, seq) index in order: the first page needs no sort of every match
            self.source = "entity_types t JOIN entities e ON e.seq = t.seq"
            self.order_key = "t.seq"
            self.clauses.append("t.tenant = ? AND t.type = ?")
            self.params.extend([query.tenant, single])
        self.clauses.append("e.tenant = ?")
        self.params.append(query.tenant)
        self.tenant = query.tenant
        if query.ids is not None:
            marks = ",".join("?" * len(query.ids))
            self.clauses.append(f"e.id IN ({marks})")
            self.params.extend(query.ids)
        if query.id_pattern is not None:
            self.clauses.append("dosi_regexp(?, e.id)")
            self.params.append(query.id_pattern)
        if query.types is not None and single is None:
            self.clauses.append(self.types(query.tenant, query.types))
        for selectors in (query.selectors or None, query.fence):
            if selectors is not None:
                self.clauses.append(self.any_of(query.tenant, selectors))
        if query.attrs:
            self.clauses.append(self.having(query.tenant, query.attrs))
        if query.q is not None:
            self.clauses.append(self.q(query.q))
        if query.scope_q is not None:
            self.clauses.append(self.scope(query.scope_q))
        if query.geo is not None:
            self.clauses.append(self.geo(query.tenant, query.geo))
        return " AND ".join(self.clauses), self.params

    def having(self, tenant: str, attrs: list[str]) -> str:
        """The entities having any of the attributes."""
        marks = ",".join("?" * len(attrs))
        rows = f"entity_attrs a WHERE a.tenant = ? AND a.attr IN ({marks})"
        if self.estimate is not None and self.estimate(rows, [tenant, *attrs]):
            # few have them: start from those (walked in order, a page checked every entity until it had found
            # enough: 150 ms for an attribute ten entities of 200,000 have)
            self.params.extend([tenant, *attrs])
            return f"e.seq IN (SELECT a.seq FROM {rows})"
        self.params.extend(attrs)
        return f"EXISTS (SELECT 1 FROM entity_attrs a WHERE a.seq = e.seq AND a.attr IN ({marks}))"

    def any_of(self, tenant: str, selectors: list[Selector]) -> str:
        """The entities matching any of the selectors (none: no entity)."""
        alternatives = []
        for selector in selectors:
            parts = ["1=1"]
            if selector.ids:
                parts.append(f"e.id IN ({','.join('?' * len(selector.ids))})")
                self.params.extend(selector.ids)
            if selector.id_pattern is not None:
                parts.append("dosi_regexp(?, e.id)")
                self.params.append(selector.id_pattern)
            if selector.types is not None:
                parts.append(self.types(tenant, selector.types))
            if selector.scope_q is not None:
                parts.append(self.scope(selector.scope_q))
            alternatives.append("(" + " AND ".join(parts) + ")")
        return "(" + (" OR ".join(alternatives) or "0") + ")"

    def order_by(self, query: EntityQuery) -> str:
        """ORDER BY terms (their parameters are appended after the WHERE ones)."""
        terms = []
        for key, descending in query.order_by or []:
            direction = " DESC" if descending else ""
            if isinstance(key, str):
                expr = {
                    "id": "e.id",
                    "type": "json_extract(e.doc, '$.type[0]')",
                    "createdAt": "e.created_at",
                    "modifiedAt": "e.modified_at",
                }[key]
                terms.append(expr + direction)
                continue
            instances, inner = self._instance_path(key)
            first = instances + "[0]" + inner[1:]
            if inner.endswith(_meta_suffixes()):
                terms.append(f"json_extract(e.doc, ?){direction}")
                self.params.append(first)
            else:
                terms.append(f"coalesce(json_extract(e.doc, ?), json_extract(e.doc, ?)){direction}")
                self.params.extend([first + ".value", first + ".object"])
        terms.append(self.order_key)
        return " ORDER BY " + ", ".join(terms)

    # -- types -----------------------------------------------------------
    def types(self, tenant: str, expr: TypeExpr) -> str:
        alternatives = []
        for names in expr.alternatives:
            parts = []
            for name in names:
                parts.append(self._of_type)
                self.params.extend([tenant, name])
            alternatives.append("(" + " AND ".join(parts) + ")")
        return "(" + " OR ".join(alternatives) + ")"

    # -- q ---------------------------------------------------------------
    def q(self, node: QNode) -> str:
        if isinstance(node, And):
            return "(" + " AND ".join(self.q(item) for item in node.items) + ")"
        if isinstance(node, Or):
            return "(" + " OR ".join(self.q(item) for item in node.items) + ")"
        if isinstance(node, Exists):
            inner = self._exists(node.path)
            return f"NOT {inner}" if node.negate else inner
        return self._comparison(node)

    def _instance_path(self, path: AttrPath) -> tuple[str, str]:
        """(JSON path of the instances array, JSON path inside one instance to compare)."""
        instances = "$.attrs." + json_key(path.attr)
        inner = "$"
        subs = list(path.sub)
        if subs and subs[-1] in _META_PATHS:
            meta = subs.pop()
            for sub in subs:
                inner += ".sub." + json_key(sub)
            return instances, inner + "." + meta
        for sub in subs:
            inner += ".sub." + json_key(sub)
        return instances, inner

    def instances(self, path: AttrPath) -> str:
        """A row source `i` whose `i.value` is each instance of the path's attribute (its parameters added)."""
        self.params.append(self._instance_path(path)[0])
        return "json_each(e.doc, ?) i"

    def _exists(self, path: AttrPath) -> str:
        _, inner = self._instance_path(path)
        source = self.instances(path)
        if inner == "$" and not path.keys:
            return f"EXISTS (SELECT 1 FROM {source})"
        target = inner + ("" if inner.endswith(_meta_suffixes()) else ".value")
        for key in path.keys:
            target += "." + json_key(key)
        self.params.append(target)
        return f"EXISTS (SELECT 1 FROM {source} WHERE json_type(i.value, ?) IS NOT NULL)"

    def _indexed(self, node: Comparison) -> str | None:
        """A plain comparison of numbers or strings, answered by the value index; None when it is not one."""
        if self.estimate is None or node.path.sub or node.path.keys:
            return None
        compared = indexed_comparison(node)
        if compared is None:
            return None
        column, operator, values = compared
        if operator == "BETWEEN":
            condition = f"v.{column} BETWEEN ? AND ?"
        elif operator == "IN":
            condition = f"v.{column} IN ({','.join('?' * len(values))})"
        else:
            condition = f"v.{column} {operator} ?"
        rows = f"entity_values v WHERE v.tenant = ? AND v.attr = ? AND {condition}"
        if self.estimate(rows, [self.tenant, node.path.attr, *values]):
            # few matches: start from them
            self.params.extend([self.tenant, node.path.attr, *values])
            return f"e.seq IN (SELECT v.seq FROM {rows})"
        # many matches: check each entity met on the way (pages walk in order and stop early)
        self.params.extend([node.path.attr, *values])
        return f"EXISTS (SELECT 1 FROM entity_values v WHERE v.seq = e.seq AND v.attr = ? AND {condition})"

    def _comparison(self, node: Comparison) -> str:
        indexed = self._indexed(node)
        if indexed is not None:
            return indexed
        _, inner = self._instance_path(node.path)
        is_meta = inner.endswith(_meta_suffixes())
        if is_meta:
            targets = [inner]
        else:
            keys = "".join("." + json_key(k) for k in node.path.keys)
            targets = [inner + ".value" + keys]
            if not keys:
                targets += [inner + '.value."@value"', inner + ".object", inner + ".vocab", inner + ".languageMap.*"]
        # json_each over a scalar yields the scalar; over an array, each element
        sources = []
        for target in targets:
            if target.endswith(".*"):
                sources.append(("json_each(i.value, ?)", target[:-2]))
            else:
                sources.append(("json_each(i.value, ?)", target))
        predicate, pred_params = self._predicate(node)
        ors = []
        params: list[Any] = []
        for source, path_text in sources:
            ors.append(f"EXISTS (SELECT 1 FROM {source} v WHERE v.type NOT IN ('object') AND {predicate})")
            params.append(path_text)
            params.extend(pred_params)
        each = self.instances(node.path)
        self.params.extend(params)
        return f"EXISTS (SELECT 1 FROM {each} WHERE {' OR '.join(ors)})"

    def _predicate(self, node: Comparison) -> tuple[str, list[Any]]:
        value = node.value
        if node.op in ("~=", "!~="):
            sql = "dosi_regexp(?, v.value)"
            return (f"NOT {sql}" if node.op == "!~=" else sql), [value]
        if isinstance(value, Range):
            sql = "(v.value >= ? AND v.value <= ?)"
            params = [_sql_value(value.low), _sql_value(value.high)]
            return (f"NOT {sql}" if node.op == "!=" else sql), params
        if isinstance(value, tuple):
            marks = ",".join("?" * len(value))
            sql = f"v.value IN ({marks})"
            params = [_sql_value(v) for v in value]
            return (f"NOT {sql}" if node.op == "!=" else sql), params
        return f"v.value {_COMPARE[node.op]} ?", [_sql_value(value)]

    # -- scope -----------------------------------------------------------
    def scope(self, node: Any) -> str:
        if isinstance(node, And):
            return "(" + " AND ".join(self.scope(item) for item in node.items) + ")"
        if isinstance(node, Or):
            return "(" + " OR ".join(self.scope(item) for item in node.items) + ")"
        assert isinstance(node, ScopeTerm)
        source = self.scopes()
        self.params.append(scope_regex(node))
        return f"EXISTS (SELECT 1 FROM {source} WHERE dosi_regexp(?, s.value))"

    def scopes(self) -> str:
        """A row source `s` whose `s.value` is each scope of the entity."""
        return "json_each(e.doc, '$.scope') s"

    # -- geo -------------------------------------------------------------
    def geo(self, tenant: str, geo: GeoQuery) -> str:
        # `b` finds the candidate boxes on the R*Tree alone; its other columns (`g`) cost a lookup per row, so a
        # query of one type first keeps the boxes of that type's entities (the seq is in the R*Tree id)
        boxes = candidate_boxes(geo)
        params: list[Any] = []
        if boxes is None:
            source = "entity_geo b"  # disjoint, minDistance alone: every geometry is a candidate
        else:
            test = _BOX_TESTS.get(geo.georel, _BOX_TESTS["intersects"])
            source = "(" + " UNION ALL ".join(f"SELECT id FROM entity_geo WHERE {test}" for _ in boxes) + ") b"
            for minx, miny, maxx, maxy in boxes:
                params.extend([minx, maxx, miny, maxy])
        sql = f"e.seq IN (SELECT b.id / {GEO_SLOTS} FROM {source}"
        if self.single_type is not None:
            sql += f" JOIN entity_types gt ON gt.seq = b.id / {GEO_SLOTS} AND gt.tenant = ? AND gt.type = ?"
            params.extend([tenant, self.single_type])
        sql += " JOIN entity_geo g ON g.id = b.id WHERE g.tenant = ? AND g.attr = ?"
        sql += " AND dosi_geo(g.geojson, ?, ?, ?, ?))"
        params.extend(
            [tenant, geo.geoproperty, geo.georel, json.dumps(geo.geometry), geo.max_distance, geo.min_distance]
        )
        self.params.extend(params)
        return sql


# an R*Tree box (minx, maxx, miny, maxy) that a geometry of the relation must meet, by georel
_BOX_TESTS = {
    "within": "minx >= ? AND maxx <= ? AND miny >= ? AND maxy <= ?",
    "contains": "minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?",
    "intersects": "maxx >= ? AND minx <= ? AND maxy >= ? AND miny <= ?",
}


class SqliteHistoryFilters(SqliteWhere):
    """q, geo and orderBy over the history: an entity's instances are its rows of `history g` in the window.

    Correlated with the listed entity `e`; `window(alias)` gives the time-window clauses.
    """

    def __init__(self, params: list[Any], window: Callable[[str], list[str]]):
        super().__init__(params)
        self.window = window

    def _of_attr(self, attr: str) -> str:
        """Conditions on `history g`: the entity's instances of `attr` in the window."""
        self.params.append(attr)
        clauses = ["g.tenant = e.tenant", "g.entity_id = e.id", "g.attr = ?", *self.window("g")]
        return " AND ".join(clauses)

    def instances(self, path: AttrPath) -> str:
        return f"(SELECT g.doc AS value FROM history g WHERE {self._of_attr(path.attr)}) i"

    def scopes(self) -> str:
        return f"(SELECT s.value FROM history g, json_each(g.doc, '$.value') s WHERE {self._of_attr(SCOPE)}) s"

    def geo(self, tenant: str, geo: GeoQuery) -> str:
        rows = self._of_attr(geo.geoproperty)
        self.params.extend([geo.georel, json.dumps(geo.geometry), geo.max_distance, geo.min_distance])
        return f"EXISTS (SELECT 1 FROM history g WHERE {rows} AND dosi_geo(json_extract(g.doc, '$.value'), ?, ?, ?, ?))"

    def entities(self, query: EntityQuery) -> tuple[str, str, str]:
        named = SqliteWhere(self.params)  # the same parameter list: placeholders stay in order
        where, _ = named.build(query)
        return named.source, where, named.order_key

    def latest(self, path: AttrPath) -> str:
        """The path's value in the attribute's latest instance (what orderBy sorts entities by)."""
        _, inner = self._instance_path(path)
        if inner.endswith(_meta_suffixes()):
            self.params.append(inner)
            value = "json_extract(g.doc, ?)"
        else:
            self.params.extend([inner + ".value", inner + ".object"])
            value = "coalesce(json_extract(g.doc, ?), json_extract(g.doc, ?))"
        return f"(SELECT {value} FROM history g WHERE {self._of_attr(path.attr)} ORDER BY {LATEST_FIRST} LIMIT 1)"


def _meta_suffixes() -> tuple[str, ...]:
    return tuple("." + m for m in _META_PATHS)
