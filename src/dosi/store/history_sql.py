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
    # of the named entities: FROM source (with `e`), WHERE, and the column that lists them in creation order
    def entities(self, query: EntityQuery) -> tuple[str, str, str]: ...


class HistoryWhere:
    """Builds WHERE clauses over `history h`; `mark(value)` adds a parameter and returns its placeholder."""

    def __init__(self, mark: Callable[[Any], str], has_type: Callable[[str], str]):
        self.mark = mark
        self.has_type = has_type  # SQL testing that h.types contains the placeholder's type
        self.order_key = "e.seq"  # creation order of the entities `listed` walks (t.seq when one type is named)

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

    def listed(self, query: EntityQuery, window: TimeWindow, filters: InstanceFilters) -> str:
        """FROM ... WHERE ...: the entities a temporal query selects, driven by the entity indexes.

        An entity is listed when it has an instance in the window (of the attributes asked for, if any) and
        q, scopeQ and geo each hold for some instance in the window. Every entity with history exists as an
        entity (temporal provision creates it), so the walk starts from the entities, not from the history.
        """
        named = EntityQuery(
            tenant=query.tenant,
            ids=query.ids,
            id_pattern=query.id_pattern,
            types=query.types,
            selectors=query.selectors,
            fence=query.fence,  # what the caller may read: the entity's current types, id and scope
        )
        source, where, self.order_key = filters.entities(named)
        recorded = ["h.tenant = e.tenant", "h.entity_id = e.id"]
        if query.attrs:
            recorded.append("h.attr IN (" + ", ".join(self.mark(a) for a in query.attrs) + ")")
        recorded.extend(self.window(window))
        clauses = [where, f"EXISTS (SELECT 1 FROM history h WHERE {' AND '.join(recorded)})"]
        if query.q is not None:
            clauses.append(filters.q(query.q))
        if query.scope_q is not None:
            clauses.append(filters.scope(query.scope_q))
        if query.geo is not None:
            clauses.append(filters.geo(query.tenant, query.geo))
        return f"FROM {source} WHERE {' AND '.join(clauses)}"

    def order(self, query: EntityQuery, filters: InstanceFilters, first_type: str) -> str:
        """ORDER BY for listed entities: orderBy terms, then the order the entities were created in."""
        members = {"id": "e.id", "type": first_type, "createdAt": "e.created_at", "modifiedAt": "e.modified_at"}
        terms = []
        for key, descending in query.order_by or []:
            expr = members[key] if isinstance(key, str) else filters.latest(key)
            terms.append(expr + (" DESC" if descending else ""))
        return " ORDER BY " + ", ".join([*terms, self.order_key])


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
