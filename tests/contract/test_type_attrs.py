"""Discovery with details reads counters (type_attrs) that the writes keep: after every kind of write they must say
what walking the entities says, and count what the migration's backfill counts."""

from __future__ import annotations

import asyncio
from importlib import resources
from typing import Any

import pytest

from dosi.errors import AlreadyExists
from dosi.store.base import EntityQuery, EntityStore, Selector
from tests.contract.test_store import VOCAB, make, put, types

EVERY_ENTITY = [Selector(id_pattern=".*")]  # a fence that admits everything: the walk over the entities


async def _details(store: EntityStore, tenant: str, fence: list[Selector] | None) -> dict[str, Any]:
    listed = await store.types(tenant, None, fence)
    attributes = await store.attributes(tenant, None, fence)
    return {
        "types": {t.type: (t.count, {a: sorted(k) for a, k in t.attributes.items()}) for t in listed},
        "one type": {t.type: await store.types(tenant, t.type, fence) for t in listed},
        "attributes": {a.attr: (sorted(a.types), sorted(a.attribute_types)) for a in attributes},
        "one attribute": {
            a.attr: [(i.count, sorted(i.types), sorted(i.attribute_types)) for i in await store.attributes(
                tenant, a.attr, fence)]
            for a in attributes
        },
    }  # fmt: skip


async def _agree(store: EntityStore, tenant: str = "") -> dict[str, Any]:
    counted = await _details(store, tenant, None)
    assert counted == await _details(store, tenant, EVERY_ENTITY)
    return counted


async def _rows(store: EntityStore, sql: str) -> set[tuple[Any, ...]]:
    if hasattr(store, "db"):
        return {tuple(r) for r in store.db.execute(sql).fetchall()}
    return {tuple(r) for r in await store.pool.fetch(sql)}  # type: ignore[attr-defined]


async def _backfilled(store: EntityStore) -> set[tuple[Any, ...]]:
    """What the migration's backfill counts from the index rows of the stored entities."""
    backend = "sqlite" if hasattr(store, "db") else "postgres"
    name = {"sqlite": "0014_type_attrs.sql", "postgres": "0020_type_attrs.sql"}[backend]
    migration = resources.files(f"dosi.store.sql.{backend}").joinpath(name).read_text()
    backfill = migration[migration.index("SELECT", migration.index("INSERT INTO type_attrs")) :].rstrip().rstrip(";")
    if backend == "postgres":
        backfill = backfill.replace("a.atype, 0, count(*)", "a.atype, count(*)")
    return await _rows(store, backfill)


async def _counted(store: EntityStore) -> set[tuple[Any, ...]]:
    sql = "SELECT tenant, type, attr, atype, sum(n) FROM type_attrs GROUP BY tenant, type, attr, atype"
    return await _rows(store, sql + " HAVING sum(n) <> 0")


async def test_discovery_details_follow_every_write(store: EntityStore) -> None:
    building, museum, vehicle = VOCAB + "Building", VOCAB + "Museum", VOCAB + "Vehicle"
    height, speed, name = VOCAB + "height", VOCAB + "speed", VOCAB + "name"
    assert await _agree(store) == {"types": {}, "one type": {}, "attributes": {}, "one attribute": {}}
    twice = [{"type": "Property", "value": 1}, {"type": "Property", "value": 2, "datasetId": "urn:d:1"}]
    await put(
        store,
        make("urn:x:1", ["Building", "Museum"], height=1, name="a"),
        make("urn:x:2", "Vehicle"),
        make("urn:x:3", "Vehicle", speed=twice),
    )
    await put(store, make("urn:x:9", "Tower", colour="red"), tenant="t1")
    found = await _agree(store)
    assert found["types"][museum] == (1, {height: ["Property"], name: ["Property"]})
    assert found["one attribute"][speed] == [(1, [vehicle], ["Property"])]  # an entity counts once
    async with store.transaction("") as tx:  # an attribute comes, one changes its type, a type goes
        await tx.replace(make("urn:x:2", "Vehicle", speed=3))
        await tx.replace(make("urn:x:3", "Vehicle", speed={"type": "Relationship", "object": "urn:x:1"}))
        await tx.replace(make("urn:x:1", "Building", name="b"))
    found = await _agree(store)
    assert found["types"][building] == (1, {name: ["Property"]}) and museum not in found["types"]
    assert found["one attribute"][speed] == [(2, [vehicle], ["Property", "Relationship"])]
    assert height not in found["attributes"]
    with pytest.raises(RuntimeError):  # a unit that fails counts nothing
        async with store.transaction("") as tx:
            await tx.insert(make("urn:x:5", "Bridge", span=3))
            await tx.replace(make("urn:x:2", "Vehicle", weight=3))
            raise RuntimeError("undone")
    with pytest.raises(AlreadyExists):  # nor does an insert of an id that exists
        async with store.transaction("") as tx:
            await tx.create(make("urn:x:1", "Ghost", haunt=1))
    assert (await _agree(store))["types"].keys() == {building, vehicle}
    async with store.transaction("") as tx:
        assert await tx.delete("urn:x:2")
        assert await tx.delete_matching(EntityQuery(types=types("Building"))) == 1
    found = await _agree(store)
    assert found["one attribute"][speed] == [(1, [vehicle], ["Relationship"])]
    assert found["types"].keys() == {vehicle}
    assert (await _agree(store, "t1"))["types"] == {VOCAB + "Tower": (1, {VOCAB + "colour": ["Property"]})}
    assert await _counted(store) == await _backfilled(store)


async def test_the_counters_count_what_the_backfill_counts(store: EntityStore) -> None:
    def kinds(n: int) -> list[str]:
        return ["Parking", "Spot"] if n % 3 else ["Parking"]

    await put(store, *(make(f"urn:p:{n}", kinds(n), free=n % 2) for n in range(30)))
    async with store.transaction("") as tx:
        for n in range(0, 30, 4):
            await tx.replace(make(f"urn:p:{n}", kinds(n), free=1, level={"type": "Relationship", "object": "urn:l"}))
        for n in range(1, 30, 7):
            assert await tx.delete(f"urn:p:{n}")
    assert await _counted(store) == await _backfilled(store)
    assert len(await _counted(store)) == 4  # Parking×free, Parking×level, Spot×free, Spot×level


async def test_writers_at_once_count_what_they_wrote(store: EntityStore) -> None:
    # concurrent writers may share one commit (SQLite's group commit); the one that fails counts nothing
    async def write(n: int) -> None:
        async with store.transaction("") as tx:
            assert await tx.insert(make(f"urn:w:{n}", "Bridge" if n % 2 else "Tunnel", span=n))
            if n == 3:
                raise RuntimeError("undone")

    results = await asyncio.gather(*(write(n) for n in range(8)), return_exceptions=True)
    assert [type(r).__name__ for r in results] == ["NoneType"] * 3 + ["RuntimeError"] + ["NoneType"] * 4
    found = await _agree(store)
    assert {t: count for t, (count, _) in found["types"].items()} == {VOCAB + "Bridge": 3, VOCAB + "Tunnel": 4}
    assert await _counted(store) == await _backfilled(store)


async def test_a_reset_forgets_what_was_counted_before_it(store: EntityStore) -> None:
    async def create() -> None:
        async with store.transaction("") as tx:
            assert await tx.insert(make("urn:r:1", "Kiosk", open=True))

    await asyncio.gather(create(), store.reset())  # on SQLite one group: the create, then the reset
    assert await _counted(store) == await _backfilled(store)
