"""SQLite answers aggregations with one index range per period; the GROUP BY plan it falls back to agrees."""

from __future__ import annotations

import random

import pytest

from dosi.store import sqlite_aggregate
from dosi.store.base import EntityStore, TimeWindow
from tests.contract.test_history import NOW, SPEED, STATION, instance, record

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
