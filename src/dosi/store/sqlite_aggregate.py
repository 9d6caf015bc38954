"""Temporal aggregation on SQLite, one index range per period.

GROUP BY over a computed period index makes SQLite sort every instance. Instead, the
extent of each (entity, attribute) in the window is read with a few index seeks, the
periods are laid out from it, and each period is aggregated from its own range of the
(tenant, entity, attribute, time) covering index: one pass over the instances, no sort.
When the periods would far outnumber the instances (sparse data, short periods), the
GROUP BY statement is the better plan and the caller falls back to it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import orjson

from dosi.store.base import TimeWindow
from dosi.store.history_sql import TIME_COLUMNS

MAX_PERIODS = 200_000  # above this, per-period seeks cost more than one sort

# (entity, attribute) pairs of the entities' history: the attributes asked for, or every attribute (skip-scan)
_GIVEN_PAIRS = "SELECT e.value AS entity_id, a.value AS attr FROM json_each(?) e, json_each(?) a"
_ALL_PAIRS = (
    "WITH RECURSIVE p(entity_id, attr) AS ("
    " SELECT e.value, (SELECT min(attr) FROM history WHERE tenant = ? AND entity_id = e.value) FROM json_each(?) e"
    " UNION ALL SELECT p.entity_id, (SELECT min(attr) FROM history WHERE tenant = ? AND entity_id = p.entity_id"
    " AND attr > p.attr) FROM p WHERE p.attr IS NOT NULL)"
    " SELECT entity_id, attr FROM p WHERE attr IS NOT NULL"
)


def periodic_rows(
    db: sqlite3.Connection,
    tenant: str,
    entity_ids: list[str],
    attrs: list[str] | None,
    window_sql: Callable[[list[Any]], list[str]],
    window: TimeWindow,
    start: float | None,
    period: float,
    distinct: bool,
) -> list[tuple[Any, ...]] | None:
    """Rows shaped like `HistoryWhere.aggregation`'s, or None when the periods are too many for this plan."""
    column = "h." + TIME_COLUMNS[window.timeproperty]
    params: list[Any] = [tenant]
    live = " AND ".join(["h.deleted_ts IS NULL", *window_sql(params), f"{column} IS NOT NULL"])

    def where(entity: str, attr: str) -> str:
        return f"h.tenant = ? AND h.entity_id = {entity} AND h.attr = {attr} AND {live}"

    if attrs:
        pairs_sql, pair_params = _GIVEN_PAIRS, [_json(entity_ids), _json(attrs)]
    else:
        pairs_sql, pair_params = _ALL_PAIRS, [tenant, _json(entity_ids), tenant]
    of_pair = where("p.entity_id", "p.attr")
    extents = db.execute(
        f"SELECT p.entity_id, p.attr, (SELECT min({column}) FROM history h WHERE {of_pair}),"
        f" (SELECT max({column}) FROM history h WHERE {of_pair}) FROM ({pairs_sql}) p",
        [*params, *params, *pair_params],
    ).fetchall()
    periods: list[list[Any]] = []
    for entity_id, attr, low, high in extents:
        if low is None:
            continue
        anchor = low if start is None else start
        first, last = int((low - anchor) // period), int((high - anchor) // period)
        if len(periods) + last - first + 1 > MAX_PERIODS:
            return None
        periods.extend([entity_id, attr, anchor, k] for k in range(first, last + 1))
    if not periods:
        return []
    distinct_sql = ", count(DISTINCT json_extract(h.doc, '$.value'))" if distinct else ""
    in_period = where("b.value ->> 0", "b.value ->> 1")
    begins = f"(b.value ->> 2) + (b.value ->> 3) * {period!r}"
    rows = db.execute(
        f"SELECT b.value ->> 0, b.value ->> 1, b.value ->> 2, b.value ->> 3,"
        f" (SELECT json_array(count(*), sum(h.num), min(h.num), max(h.num), sum(h.num * h.num){distinct_sql})"
        f" FROM history h WHERE {in_period} AND {column} >= {begins} AND {column} < {begins} + {period!r})"
        " FROM json_each(?) b ORDER BY b.key",
        [*params, _json(periods)],
    ).fetchall()
    out = []
    for entity_id, attr, anchor, k, sums in rows:
        count, total, low, high, squares, *distinct_count = orjson.loads(sums)
        if count:
            average = total / count if total is not None else None
            kinds = distinct_count[0] if distinct_count else None
            out.append((entity_id, attr, anchor, k, count, total, average, low, high, squares, kinds))
    return out


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()
