"""SQL shared by both backends for the history table (placeholders are rendered by each backend)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dosi.store.base import EntityQuery, HistoryRow, PruneScope, TimeWindow

TIME_COLUMNS = {
    "observedAt": "observed_ts",
    "createdAt": "created_ts",
    "modifiedAt": "modified_ts",
    "deletedAt": "deleted_ts",
}
COLUMNS = "entity_id, types, attr, instance_id, dataset_id, observed_ts, created_ts, modified_ts, deleted_ts, num, doc"


class HistoryWhere:
    """Builds WHERE clauses over `history h`; `mark(value)` adds a parameter and returns its placeholder."""

    def __init__(self, mark: Callable[[Any], str], has_type: Callable[[str], str], regex: Callable[[str, str], str]):
        self.mark = mark
        self.has_type = has_type  # SQL testing that h.types contains the placeholder's type
        self.regex = regex  # SQL testing that a column matches the placeholder's pattern

    def window(self, window: TimeWindow) -> list[str]:
        column = "h." + TIME_COLUMNS[window.timeproperty]
        clauses = []
        if window.after is not None:
            clauses.append(f"{column} {'>=' if window.after_inclusive else '>'} {self.mark(window.after)}")
        if window.before is not None:
            clauses.append(f"{column} < {self.mark(window.before)}")
        if clauses or window.timeproperty != "observedAt":
            clauses.append(f"{column} IS NOT NULL")
        return clauses

    def entities(self, query: EntityQuery, window: TimeWindow) -> str:
        clauses = [f"h.tenant = {self.mark(query.tenant)}"]
        if query.ids:
            clauses.append("h.entity_id IN (" + ", ".join(self.mark(i) for i in query.ids) + ")")
        if query.id_pattern is not None:
            clauses.append(self.regex(self.mark(query.id_pattern), "h.entity_id"))
        selectors = list(query.selectors or [])
        if query.types is not None:
            clauses.append(self._types(query.types.alternatives))
        if selectors:
            alternatives = []
            for selector in selectors:
                parts = ["1 = 1"]
                if selector.ids:
                    parts.append("h.entity_id IN (" + ", ".join(self.mark(i) for i in selector.ids) + ")")
                if selector.id_pattern is not None:
                    parts.append(self.regex(self.mark(selector.id_pattern), "h.entity_id"))
                if selector.types is not None:
                    parts.append(self._types(selector.types.alternatives))
                alternatives.append("(" + " AND ".join(parts) + ")")
            clauses.append("(" + " OR ".join(alternatives) + ")")
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

    def _types(self, alternatives: tuple[tuple[str, ...], ...]) -> str:
        ors = ["(" + " AND ".join(self.has_type(self.mark(name)) for name in names) + ")" for names in alternatives]
        return "(" + " OR ".join(ors) + ")"


def when(row: HistoryRow, column: str) -> float:
    """The time an instance is ordered by: its time property, else when it was written."""
    value = getattr(row, column)
    return float(value) if value is not None else row.created_ts
