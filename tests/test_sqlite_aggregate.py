"""SQLite answers aggregations with one index range per period; the GROUP BY plan it falls back to agrees;
the entities of a temporal query are found on the type index."""

from __future__ import annotations

import random

import pytest

from dosi.ngsild.query import TypeExpr
from dosi.store import sqlite_aggregate
from dosi.store.base import EntityQuery, EntityStore, TimeWindow
from dosi.store.sqlite import SqliteStore
from tests.contract.test_history import NOW, PARKING, SPEED, STATION, instance, record

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.mark.parametrize(
    ("window", "start", "attrs"),
    [
        (TimeWindow(), None, None),
        (TimeWindow(), None, [SPEED]),
        (TimeWindow(after=NOW - 20_000, before=NOW - 2_000), NOW - 20_000, [SPEED]),
        (TimeWindow(after=NOW - 30_000, after_inclusive=False, timeproperty="createdAt"), None, None),
    ],
)
async def test_both_plans_agree(
    store: EntityStore, monkeypatch: pytest.MonkeyPatch, window: TimeWindow, start: float | None, attrs: list[str]
) -> None:
    rng = random.Random(5)
    for n in range(3):
        times = sorted(NOW - 300 * k for k in rng.sample(range(130), 100))  # periods begin on instants
        await record(store, [instance(f"urn:a:{n}", STATION, rng.choice([1, 2, 2.5, 9]), t) for t in times])
    ids = ["urn:a:0", "urn:a:1", "urn:a:2", "urn:a:missing"]
    by_periods = await store.aggregate("", ids, attrs, window, start, 1800, distinct=True)
    monkeypatch.setattr(sqlite_aggregate, "MAX_PERIODS", 0)
    by_sorting = await store.aggregate("", ids, attrs, window, start, 1800, distinct=True)
    assert [a.entity_id for a in by_periods] == ["urn:a:0", "urn:a:1", "urn:a:2"]
    assert sum(b[1] for a in by_periods for b in a.buckets) > 50
    assert by_periods == by_sorting


async def test_temporal_listing_of_one_type_walks_that_type(store: EntityStore) -> None:
    # The entities of a temporal query of one type are found from the type's index, in its order. Ordered by
    # the entities' own seq, SQLite walked every entity of the store and probed its history before it looked at
    # the type: 1.2 s for 1,000 stations among a million entities.
    assert isinstance(store, SqliteStore)
    await record(store, [instance(f"urn:a:{n}", STATION, n, NOW - n) for n in range(3)])
    await record(store, [instance(f"urn:p:{n}", PARKING, n, NOW - n) for n in range(3)])
    statements: list[str] = []
    store.db.set_trace_callback(statements.append)
    query = EntityQuery(tenant="", types=TypeExpr(((STATION,),)), attrs=[SPEED], limit=10)
    found, _ = await store.history_entities(query, TimeWindow())
    store.db.set_trace_callback(None)
    assert [entity_id for entity_id, _ in found] == ["urn:a:0", "urn:a:1", "urn:a:2"]
    (listing,) = [s for s in statements if "FROM history h" in s]
    plan = [row[3] for row in store.db.execute("EXPLAIN QUERY PLAN " + listing)]
    assert plan[0].startswith("SEARCH t USING PRIMARY KEY (tenant=? AND type=?)"), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan  # no sort either
