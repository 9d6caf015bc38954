"""The history part of the storage contract: every backend keeps, selects, aggregates and prunes instances alike."""

from __future__ import annotations

import math
import random
import time
from collections import defaultdict
from dataclasses import replace
from typing import Any

import pytest

from dosi.ngsild.temporal import iso
from dosi.service.history import row_of
from dosi.service.retention import RetentionRule, prune
from dosi.store.base import Aggregate, EntityQuery, EntityStore, HistoryRow, TimeWindow
from dosi.store.history_sql import TIME_COLUMNS

DAY = 86400.0
NOW = float(int(time.time()))  # whole seconds: instance times are kept to the microsecond
VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
SPEED = VOCAB + "speed"
NOISE = VOCAB + "noise"
PARKING = VOCAB + "ParkingSpot"
STATION = VOCAB + "AirQualityObserved"


def instance(entity_id: str, etype: str, value: float, recorded: float, observed: float | None = None) -> HistoryRow:
    inst = {"type": "Property", "value": value, "observedAt": iso(observed if observed is not None else recorded)}
    return row_of(entity_id, [etype], SPEED, inst, iso(recorded))


async def record(store: EntityStore, rows: list[HistoryRow], tenant: str = "") -> None:
    """History rows, and their entities (every entity with history exists as an entity)."""
    async with store.transaction(tenant) as tx:
        for entity_id, types in {r.entity_id: r.types for r in rows}.items():
            now = iso(NOW)
            await tx.insert({"id": entity_id, "type": types, "createdAt": now, "modifiedAt": now, "attrs": {}})
        await tx.add_history(rows)


async def values(store: EntityStore, entity_id: str, tenant: str = "") -> list[float]:
    rows = await store.history(tenant, [entity_id], None, TimeWindow())
    return sorted(r.doc["value"] for r in rows)


async def test_instances_come_back_in_time_order(store: EntityStore) -> None:
    await record(store, [instance("urn:p:1", PARKING, v, NOW - (10 - v) * 60) for v in (3, 1, 2)])
    rows = await store.history("", ["urn:p:1"], [SPEED], TimeWindow())
    assert [r.doc["value"] for r in rows] == [1, 2, 3]
    last = await store.history("", ["urn:p:1"], [SPEED], TimeWindow(last_n=2))
    assert [r.doc["value"] for r in last] == [2, 3]


async def test_time_window_selects_entities_in_sql(store: EntityStore) -> None:
    await record(store, [instance("urn:p:old", PARKING, 1, NOW - 5 * DAY), instance("urn:p:new", PARKING, 2, NOW)])
    window = TimeWindow(after=NOW - DAY)
    found, count = await store.history_entities(EntityQuery(tenant="", count=True, limit=10), window)
    assert [entity_id for entity_id, _ in found] == ["urn:p:new"] and count == 1


async def test_aggregate_buckets(store: EntityStore) -> None:
    start = NOW - 3 * 3600
    await record(store, [instance("urn:a:1", STATION, v, start + i * 1800) for i, v in enumerate([1, 3, 5, 7, 9])])
    await record(store, [instance("urn:a:2", STATION, 4, start + 100)])
    found = await store.aggregate("", ["urn:a:1", "urn:a:2"], None, TimeWindow(), None, 3600, distinct=True)
    assert [(a.entity_id, a.attr, a.attr_type) for a in found] == [
        ("urn:a:1", SPEED, "Property"),
        ("urn:a:2", SPEED, "Property"),
    ]
    assert found[0].start == start and found[1].start == start + 100  # periods begin at each first instance
    buckets = found[0].buckets
    # (bucket, count, sum, avg, min, max, sumsq, distinct)
    assert [(b[0], b[1], b[2], b[4], b[5]) for b in buckets] == [(0, 2, 4, 1, 3), (1, 2, 12, 5, 7), (2, 1, 9, 9, 9)]


def periods_of(rows: list[HistoryRow], column: str, start: float | None, period: float) -> dict[Any, Any]:
    """What an aggregation must answer, worked out from the instances themselves."""
    times: dict[tuple[str, str], list[tuple[float, Any]]] = defaultdict(list)
    for row in rows:
        if getattr(row, column) is not None and row.deleted_ts is None:
            times[(row.entity_id, row.attr)].append((getattr(row, column), row.doc["value"]))
    answer = {}
    for pair, items in times.items():
        first = start if start is not None else min(t for t, _ in items)
        periods: dict[int, list[Any]] = defaultdict(list)
        for t, value in items:
            periods[math.floor((t - first) / period)].append(value)
        answer[pair] = (first, {b: (len(v), sum(v), min(v), max(v), len(set(v))) for b, v in periods.items()})
    return answer


def periods_given(found: list[Aggregate]) -> dict[Any, Any]:
    return {
        (a.entity_id, a.attr): (a.start, {b[0]: (b[1], pytest.approx(b[2]), b[4], b[5], b[7]) for b in a.buckets})
        for a in found
    }


@pytest.mark.parametrize(
    ("window", "start", "attrs"),
    [
        (TimeWindow(), None, None),
        (TimeWindow(), None, [NOISE]),
        (TimeWindow(after=NOW - 20_000, before=NOW - 2_000), NOW - 20_000, [SPEED, NOISE]),
        (TimeWindow(after=NOW - 30_000, after_inclusive=False, timeproperty="createdAt"), None, None),
    ],
)
async def test_aggregate_agrees_with_the_instances(
    store: EntityStore, window: TimeWindow, start: float | None, attrs: list[str] | None
) -> None:
    rng = random.Random(5)
    rows = []
    for n in range(3):
        for attr in (SPEED, NOISE)[: n + 1]:  # urn:a:0 has one attribute, the others two
            times = sorted(NOW - 300 * k - rng.random() for k in rng.sample(range(130), 60))
            rows += [replace(instance(f"urn:a:{n}", STATION, rng.choice([1, 2, 2.5, 9]), t), attr=attr) for t in times]
    await record(store, rows)
    ids = ["urn:a:0", "urn:a:1", "urn:a:2", "urn:a:missing"]
    found = await store.aggregate("", ids, attrs, window, start, 1800, distinct=True)
    expected = periods_of(await store.history("", ids, attrs, window), TIME_COLUMNS[window.timeproperty], start, 1800)
    assert len(expected) >= 2 and sum(len(p) for _, p in expected.values()) > 10
    assert sorted((a.entity_id, a.attr) for a in found) == sorted(expected)  # each pair once
    assert periods_given(found) == expected


async def test_prune_follows_the_narrowest_rule(store: EntityStore) -> None:
    await store.maintain_history(NOW)
    ages = (1, 10, 100, 400)  # days since the instances were recorded
    await record(store, [instance("urn:p:1", PARKING, age, NOW - age * DAY) for age in ages])
    await record(store, [instance("urn:a:1", STATION, age, NOW - age * DAY) for age in ages])
    await record(store, [instance("urn:a:2", STATION, age, NOW - age * DAY) for age in ages], tenant="seoul")
    rules = [
        RetentionRule(keep="P365D"),
        RetentionRule(type="ParkingSpot", keep="P30D"),
        RetentionRule(tenant="seoul", keep="P1000D"),
    ]
    done = await prune(store, rules, now=NOW)
    assert sum(deleted for _, deleted in done) == 3  # 400 of AirQuality, 100 and 400 of parking
    assert await values(store, "urn:p:1") == [1, 10]
    assert await values(store, "urn:a:1") == [1, 10, 100]
    assert await values(store, "urn:a:2", tenant="seoul") == [1, 10, 100, 400]
    again = await prune(store, rules, now=NOW)
    assert sum(deleted for _, deleted in again) == 0


async def test_prune_drops_whole_months(store: EntityStore) -> None:
    """Data older than every partition the job prepared (it waited in the default partition) is pruned too."""
    await record(store, [instance("urn:a:1", STATION, age, NOW - age * DAY) for age in (2, 90, 200)])
    await store.maintain_history(NOW - 200 * DAY)  # a month created after its rows arrived: rows move over
    await store.maintain_history(NOW)
    done = await prune(store, [RetentionRule(keep="P60D")], now=NOW)
    assert sum(deleted for _, deleted in done) == 2
    assert await values(store, "urn:a:1") == [2]


def test_rules_are_validated() -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        RetentionRule(keep="30 days")
    assert RetentionRule(type="https://example.org/T", keep="P1D").scope().type == "https://example.org/T"
    assert RetentionRule(type="ParkingSpot", keep="P1D").scope().type == PARKING
