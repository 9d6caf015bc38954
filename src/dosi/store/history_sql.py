"""SQL shared by both backends for the history table (placeholders are rendered by each backend)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from dosi.ngsild.query import AttrPath, GeoQuery, QNode
from dosi.store.base import Aggregate, EntityQuery, HistoryRow, PruneScope, TimeWindow

TIME_COLUMNS = {
    "observedAt": "observed_ts",
    "createdAt": "created_ts",
    "modifiedAt": "modified_ts",
    "deletedAt": "deleted_ts",
}
# the attribute type of each (entity, attribute): one index probe each
ATTR_TYPE = "(SELECT {type_of} FROM history h WHERE h.tenant = {t} AND h.entity_id = {e} AND h.attr = {a} LIMIT 1)"
LATEST_FIRST = "g.observed_ts DESC NULLS LAST, g.created_ts DESC"  # the latest instance of `history g` first
COLUMNS = "entity_id, types, attr, instance_id, dataset_id, observed_ts, created_ts, modified_ts, deleted_ts, num, doc"


class InstanceFilters(Protocol):
    """Each backend's q, geo and orderBy value over an entity's instances (correlated with `h.entity_id`)."""

    def q(self, node: QNode) -> str: ...
    def geo(self, tenant: str, geo: GeoQuery) -> str: ...
    def scope(self, node: Any) -> str: ...
    def latest(self, path: AttrPath) -> str: ...
    def entity_ids(self, query: EntityQuery) -> str: ...  # h.entity_id IN (the entities the query names)


class HistoryWhere:
    """Builds WHERE clauses over `history h`; `mark(value)` adds a parameter and returns its placeholder."""

    def __init__(self, mark: Callable[[Any], str], has_type: Callable[[str], str]):
        self.mark = mark
        self.has_type = has_type  # SQL testing that h.types contains the placeholder's type

    def window(self, window: TimeWindow, alias: str = "h") -> list[str]:
        column = f"{alias}.{TIME_COLUMNS[window.timeproperty]}"
        clauses = []
        if window.after is not None:
            clauses.append(f"{column} {'>=' if window.after_inclusive else '>'} {self.mark(window.after)}")
        if window.before is not None:
            clauses.append(f"{column} < {self.mark(window.before)}")
        if clauses or window.timeproperty != "observedAt":
            clauses.append(f"{column} IS NOT NULL")
        return clauses

    def entities(self, query: EntityQuery, window: TimeWindow, filters: InstanceFilters) -> str:
        """Row filters: the entities named by id, idPattern, type or selectors (found through the entity
        indexes, not by scanning the history), the attributes asked for, the time window."""
        clauses = [f"h.tenant = {self.mark(query.tenant)}"]
        if query.ids or query.id_pattern is not None or query.types is not None or query.selectors:
            named = EntityQuery(
                tenant=query.tenant,
                ids=query.ids,
                id_pattern=query.id_pattern,
                types=query.types,
                selectors=query.selectors,
            )
            clauses.append(filters.entity_ids(named))
        if query.attrs:
            clauses.append("h.attr IN (" + ", ".join(self.mark(a) for a in query.attrs) + ")")
        clauses.extend(self.window(window))
        return " AND ".join(clauses)

    def prune(self, scope: PruneScope, cutoff: float, spared: list[PruneScope]) -> str:
        """Instances of `scope` recorded before `cutoff`, except those of the `spared` narrower scopes."""
        clauses = [f"h.created_ts < {self.mark(cutoff)}", *self._scope(scope)]
        for narrower in spared:
            clauses.append("NOT (" + " AND ".join(self._scope(narrower) or ["TRUE"]) + ")")
        return " AND ".join(clauses)

    def _scope(self, scope: PruneScope) -> list[str]:
        clauses = []
        if scope.tenant is not None:
            clauses.append(f"h.tenant = {self.mark(scope.tenant)}")
        if scope.type is not None:
            clauses.append(self.has_type(self.mark(scope.type)))
        return clauses

    def aggregation(
        self, tenant: str, entity_ids: list[str], attrs: list[str] | None, window: TimeWindow, start: float | None,
        period: float, bucket: str, value: str | None,
    ) -> str:  # fmt: skip
        """Per-period sums of the entities' live instances in the window, one row per (entity, attribute, period).

        Each (entity, attribute) starts its periods at `start`, or at its first instance in the window.
        `bucket` renders the period index of `(x.t - x.first) / period` for the backend; `value` the JSON value
        that distinctCount counts (None: not asked for).
        """
        column = "h." + TIME_COLUMNS[window.timeproperty]
        clauses = [
            f"h.tenant = {self.mark(tenant)}",
            "h.entity_id IN (" + ", ".join(self.mark(i) for i in entity_ids) + ")",
            "h.deleted_ts IS NULL",
            *self.window(window),
            f"{column} IS NOT NULL",
        ]
        if attrs:
            clauses.append("h.attr IN (" + ", ".join(self.mark(a) for a in attrs) + ")")
        first = f"min({column}) OVER (PARTITION BY h.entity_id, h.attr)" if start is None else str(float(start))
        inner = (
            f"SELECT h.entity_id, h.attr, h.num, {column} AS t, {first} AS first, {value or 'NULL'} AS v"
            f" FROM history h WHERE {' AND '.join(clauses)}"
        )
        periods = bucket.format(x=f"(x.t - x.first) / {float(period)!r}")
        return (
            f"SELECT x.entity_id, x.attr, x.first, {periods} AS bucket, count(*), sum(x.num), avg(x.num), min(x.num),"
            f" max(x.num), sum(x.num * x.num), {'count(DISTINCT x.v)' if value else 'NULL'}"
            f" FROM ({inner}) AS x GROUP BY x.entity_id, x.attr, x.first, bucket ORDER BY x.entity_id, x.attr, bucket"
        )

    def grouped(self, query: EntityQuery, window: TimeWindow, filters: InstanceFilters) -> str:
        """FROM ... GROUP BY h.entity_id: the entities with instances in the window that pass every filter.

        q, scopeQ and geo hold for an entity when some instance in the window satisfies each term.
        """
        sql = f"FROM history h WHERE {self.entities(query, window, filters)} GROUP BY h.tenant, h.entity_id"
        having = []
        if query.q is not None:
            having.append(filters.q(query.q))
        if query.scope_q is not None:
            having.append(filters.scope(query.scope_q))
        if query.geo is not None:
            having.append(filters.geo(query.tenant, query.geo))
        return sql + (" HAVING " + " AND ".join(having) if having else "")

    def order(self, query: EntityQuery, filters: InstanceFilters, first_type: str) -> str:
        """ORDER BY for grouped entities: orderBy terms, then the order they were first recorded in."""
        members = {
            "id": "h.entity_id",
            "type": first_type,
            "createdAt": "min(h.created_ts)",
            "modifiedAt": "max(h.modified_ts)",
        }
        terms = []
        for key, descending in query.order_by or []:
            expr = members[key] if isinstance(key, str) else filters.latest(key)
            terms.append(expr + (" DESC" if descending else ""))
        return " ORDER BY " + ", ".join([*terms, "min(h.seq)"])


def aggregates_of(rows: list[Any], types: dict[tuple[str, str], str]) -> list[Aggregate]:
    """Rows of `HistoryWhere.aggregation` (ordered by entity, attribute, period) as one Aggregate each."""
    out: list[Aggregate] = []
    for entity_id, attr, first, *bucket in rows:
        if not out or (out[-1].entity_id, out[-1].attr) != (entity_id, attr):
            out.append(Aggregate(entity_id, attr, types.get((entity_id, attr)) or "Property", float(first), []))
        out[-1].buckets.append(tuple(bucket))
    return out


def when(row: HistoryRow, column: str) -> float:
    """The time an instance is ordered by: its time property, else when it was written."""
    value = getattr(row, column)
    return float(value) if value is not None else row.created_ts
