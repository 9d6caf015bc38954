"""The storage contract: every backend passes this suite unchanged (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from dosi.errors import AlreadyExists, BadRequestData
from dosi.ngsild.context import core_active
from dosi.ngsild.parse import Parser
from dosi.ngsild.query import AttrPath, TypeExpr, parse_geo_query, parse_q, parse_scope_query
from dosi.service.merge import stamp_entity
from dosi.service.params import expand_q
from dosi.store.base import EntityQuery, EntityStore, Selector, StoredContext

CTX = core_active()
VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
LOCATION = "https://uri.etsi.org/ngsi-ld/location"


def make(entity_id: str, etype: str | list[str] = "Building", **attrs: Any) -> dict[str, Any]:
    body = {"id": entity_id, "type": etype, **attrs}
    parsed = Parser(CTX, "2026-01-01T00:00:00.000000Z").entity(body)
    stamp_entity(parsed, "2026-01-01T00:00:00.000000Z")
    return parsed


def types(*names: str) -> TypeExpr:
    return TypeExpr(tuple((VOCAB + n,) for n in names))


async def put(store: EntityStore, *entities: dict[str, Any], tenant: str = "") -> None:
    async with store.transaction(tenant) as tx:
        for item in entities:
            assert await tx.insert(item)


async def ids(store: EntityStore, **query: Any) -> list[str]:
    query.setdefault("limit", 100)
    result = await store.query(EntityQuery(**query))
    return [e["id"] for e in result.entities]


async def q_ids(store: EntityStore, q: str) -> list[str]:
    return await ids(store, q=expand_q(parse_q(q), CTX))


POINT_A = {"type": "Point", "coordinates": [13.3986, 52.5547]}
POINT_B = {"type": "Point", "coordinates": [13.509818, 52.363457]}
POINT_C = {"type": "Point", "coordinates": [13.215983, 52.470441]}


@pytest.fixture
async def city(store: EntityStore) -> EntityStore:
    await put(
        store,
        make(
            "urn:b:1",
            name="Eiffel",
            height=300,
            open=True,
            location=POINT_A,
            scope="/Paris/Centre",
            address={"value": {"city": "Paris", "zip": "75007"}},
            owner={"type": "Relationship", "object": "urn:p:1"},
        ),
        make(
            "urn:b:2",
            name="Pisa",
            height=56,
            open=False,
            location=POINT_B,
            scope=["/Pisa", "/Italy/Tuscany"],
            address={"value": {"city": "Pisa"}},
        ),
        make(
            "urn:b:3",
            ["Building", "Museum"],
            name="Louvre",
            height=21.5,
            location=POINT_C,
            visitors={"value": 9, "observedAt": "2024-05-01T10:00:00Z", "unit": {"value": "k"}},
        ),
        make(
            "urn:v:1",
            "Vehicle",
            name="Bus 7",
            speed=[{"type": "Property", "value": 30}, {"type": "Property", "value": 80, "datasetId": "urn:ds:gps"}],
        ),
    )
    return store


async def test_insert_get_replace_delete(store: EntityStore) -> None:
    item = make("urn:x:1", name="a")
    await put(store, item)
    assert (await store.get("", "urn:x:1")) == item
    async with store.transaction("") as tx:
        assert not await tx.insert(make("urn:x:1"))  # duplicate
        changed = make("urn:x:1", name="b")
        await tx.replace(changed)
    stored = await store.get("", "urn:x:1")
    assert stored is not None and stored["attrs"][VOCAB + "name"][0]["value"] == "b"
    async with store.transaction("") as tx:
        assert await tx.delete("urn:x:1")
        assert not await tx.delete("urn:x:1")
    assert await store.get("", "urn:x:1") is None


async def test_failed_transaction_writes_nothing(store: EntityStore) -> None:
    with pytest.raises(RuntimeError):
        async with store.transaction("") as tx:
            await tx.insert(make("urn:x:1"))
            raise RuntimeError("boom")
    assert await store.get("", "urn:x:1") is None
    assert await store.types("") == []


def near(point: list[float], metres: int) -> Any:
    geo = parse_geo_query(f"near;maxDistance=={metres}", "Point", str(point), None)
    assert geo is not None
    return type(geo)(geo.georel, geo.geometry, LOCATION, geo.max_distance, geo.min_distance)


async def test_create_refuses_an_existing_id_and_writes_nothing(store: EntityStore) -> None:
    async with store.transaction("") as tx:
        await tx.create(make("urn:x:1", name="a"))
    with pytest.raises(AlreadyExists):  # at once or when the transaction writes: never half of it
        async with store.transaction("") as tx:
            await tx.create(make("urn:x:2", name="b"))
            await tx.create(make("urn:x:1", name="changed"))
    assert await store.get("", "urn:x:2") is None
    stored = await store.get("", "urn:x:1")
    assert stored is not None and stored["attrs"][VOCAB + "name"][0]["value"] == "a"
    assert {t.type: t.count for t in await store.types("")} == {VOCAB + "Building": 1}


async def test_replace_keeps_every_index_true(store: EntityStore) -> None:
    near_a, near_b = (near(point["coordinates"], 1000) for point in (POINT_A, POINT_B))
    await put(store, make("urn:x:1", ["Building", "Museum"], height=10, name="old", location=POINT_A))
    async with store.transaction("") as tx:  # one type, one attribute and the location change; one of each stays
        await tx.replace(make("urn:x:1", ["Building", "Tower"], height=99, colour="red", location=POINT_B))
    assert await ids(store, types=types("Museum")) == []
    assert await ids(store, types=types("Tower")) == await ids(store, types=types("Building")) == ["urn:x:1"]
    assert {t.type: t.count for t in await store.types("")} == {VOCAB + "Building": 1, VOCAB + "Tower": 1}
    assert await q_ids(store, "height==10") == [] and await q_ids(store, "height==99") == ["urn:x:1"]
    assert await q_ids(store, 'name=="old"') == [] and await q_ids(store, 'colour=="red"') == ["urn:x:1"]
    assert await ids(store, geo=near_a) == [] and await ids(store, geo=near_b) == ["urn:x:1"]
    # a geo-query of one type sees the new types (PostgreSQL keeps them on the geometry rows)
    assert await ids(store, types=types("Tower"), geo=near_b) == ["urn:x:1"]
    assert await ids(store, types=types("Museum"), geo=near_b) == []
    assert {a.attr for a in await store.attributes("")} == {VOCAB + "height", VOCAB + "colour", LOCATION}
    async with store.transaction("") as tx:  # only the types change: the geometry's rows learn them too
        await tx.replace(make("urn:x:1", ["Building", "Museum"], height=99, colour="red", location=POINT_B))
    assert await ids(store, types=types("Museum"), geo=near_b) == ["urn:x:1"]
    assert await ids(store, types=types("Tower"), geo=near_b) == []
    async with store.transaction("") as tx:  # only a value changes: the other index rows stay as they are
        await tx.replace(make("urn:x:1", ["Building", "Museum"], height=7, colour="red", location=POINT_B))
    assert await q_ids(store, "height==7") == ["urn:x:1"] and await q_ids(store, "height==99") == []
    assert await ids(store, types=types("Museum"), geo=near_b) == ["urn:x:1"]
    assert await q_ids(store, 'colour=="red"') == ["urn:x:1"]
    assert {t.type: t.count for t in await store.types("")} == {VOCAB + "Building": 1, VOCAB + "Museum": 1}
    async with store.transaction("") as tx:  # only an attribute goes: its rows go, the others' stay
        await tx.replace(make("urn:x:1", ["Building", "Museum"], height=7, location=POINT_B))
    assert await q_ids(store, 'colour=="red"') == [] and await q_ids(store, "height==7") == ["urn:x:1"]
    assert {a.attr for a in await store.attributes("")} == {VOCAB + "height", LOCATION}
    assert await ids(store, geo=near_b) == ["urn:x:1"]


async def test_cancelled_transaction_writes_nothing_and_leaves_the_store_usable(store: EntityStore) -> None:
    started = asyncio.Event()

    async def write_forever() -> None:
        async with store.transaction("") as tx:
            await tx.insert(make("urn:x:1"))
            started.set()
            await asyncio.sleep(3600)

    for _ in range(12):  # more than a PostgreSQL pool holds: each connection is reused after a cancelled write
        started.clear()
        task = asyncio.create_task(write_forever())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    await put(store, make("urn:x:2"))
    assert await store.get("", "urn:x:1") is None and await store.get("", "urn:x:2") is not None


async def test_tenants_are_isolated(store: EntityStore) -> None:
    await put(store, make("urn:x:1", name="a"), tenant="t1")
    await put(store, make("urn:x:1", "Vehicle"), tenant="t2")
    assert await ids(store, tenant="t1", types=types("Building")) == ["urn:x:1"]
    assert await ids(store, tenant="t2", types=types("Building")) == []
    assert await ids(store, tenant="", types=types("Building", "Vehicle")) == []
    assert [t.type for t in await store.types("t2")] == [VOCAB + "Vehicle"]
    assert await store.tenant_exists("t1") and not await store.tenant_exists("t3")


async def test_discovery_names_follow_every_write(store: EntityStore) -> None:
    # the names come from the type counters and an index probe per name; the full discovery walks the entities
    async def names(tenant: str = "", fence: list[Selector] | None = None) -> tuple[list[str], list[str]]:
        return sorted(await store.type_names(tenant, fence)), sorted(await store.attribute_names(tenant, fence))

    async def walked(tenant: str = "", fence: list[Selector] | None = None) -> tuple[list[str], list[str]]:
        found_types = sorted(t.type for t in await store.types(tenant, None, fence))
        return found_types, sorted(a.attr for a in await store.attributes(tenant, None, fence))

    assert await names() == await walked() == ([], [])
    await put(store, make("urn:x:1", ["Building", "Museum"], height=1, location=POINT_A), make("urn:x:2", "Vehicle"))
    async with store.transaction("") as tx:
        await tx.replace(make("urn:x:2", "Vehicle", speed=3))
    await put(store, make("urn:x:9", "Tower", colour="red"), tenant="t1")
    building, museum, vehicle = VOCAB + "Building", VOCAB + "Museum", VOCAB + "Vehicle"
    assert (
        await names() == await walked() == ([building, museum, vehicle], [VOCAB + "height", VOCAB + "speed", LOCATION])
    )
    async with store.transaction("") as tx:  # a type and an attribute go, one comes
        await tx.replace(make("urn:x:1", "Building", name="x", location=POINT_A))
        assert await tx.delete("urn:x:2")
    assert await names() == await walked() == ([building], [VOCAB + "name", LOCATION])
    assert await names("t1") == await walked("t1") == ([VOCAB + "Tower"], [VOCAB + "colour"])
    await put(store, make("urn:x:3", "Vehicle", speed=1))
    fence = [Selector(types=types("Vehicle"))]
    assert await names(fence=fence) == await walked(fence=fence) == ([vehicle], [VOCAB + "speed"])
    assert await names("t2") == ([], [])


async def test_type_expressions(city: EntityStore) -> None:
    assert await ids(city, types=types("Building")) == ["urn:b:1", "urn:b:2", "urn:b:3"]
    both = TypeExpr(((VOCAB + "Building", VOCAB + "Museum"),))
    assert await ids(city, types=both) == ["urn:b:3"]
    assert await ids(city, types=types("Museum", "Vehicle")) == ["urn:b:3", "urn:v:1"]


async def test_ids_pattern_attrs_and_selectors(city: EntityStore) -> None:
    assert await ids(city, ids=["urn:b:2", "urn:v:1", "urn:none"]) == ["urn:b:2", "urn:v:1"]
    assert await ids(city, id_pattern="^urn:b:[12]$") == ["urn:b:1", "urn:b:2"]
    assert await ids(city, attrs=[VOCAB + "visitors", VOCAB + "speed"]) == ["urn:b:3", "urn:v:1"]
    selectors = [Selector(ids=("urn:b:1",)), Selector(types=types("Vehicle"))]
    assert await ids(city, selectors=selectors) == ["urn:b:1", "urn:v:1"]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ('name=="Pisa"', ["urn:b:2"]),
        ('name!="Pisa"', ["urn:b:1", "urn:b:3", "urn:v:1"]),
        ("height>56", ["urn:b:1"]),
        ("height>=56", ["urn:b:1", "urn:b:2"]),
        ("height<56", ["urn:b:3"]),
        ("height==20..60", ["urn:b:2", "urn:b:3"]),
        ("height==21.5,300", ["urn:b:1", "urn:b:3"]),
        ("open==true", ["urn:b:1"]),
        ("open==false", ["urn:b:2"]),
        ("visitors", ["urn:b:3"]),
        ("!visitors;height", ["urn:b:1", "urn:b:2"]),
        ('name~="^(Ei|Lo)"', ["urn:b:1", "urn:b:3"]),
        ('name!~="^(Ei|Lo)"', ["urn:b:2", "urn:v:1"]),
        ("owner==urn:p:1", ["urn:b:1"]),
        ('address[city]=="Pisa"', ["urn:b:2"]),
        ("address[zip]", ["urn:b:1"]),
        ('visitors.unit=="k"', ["urn:b:3"]),
        ("visitors.observedAt>=2024-01-01T00:00:00Z", ["urn:b:3"]),
        ("speed==80", ["urn:v:1"]),
        ("speed>100", []),
        ('(name=="Pisa"|name=="Eiffel");height>100', ["urn:b:1"]),
        ('name=="Pisa"|height<30', ["urn:b:2", "urn:b:3"]),
    ],
)
async def test_q_runs_in_the_database(city: EntityStore, q: str, expected: list[str]) -> None:
    assert await q_ids(city, q) == expected


@pytest.mark.parametrize("q", ["height>50", 'name=="Pisa"', "height==21.5", "speed==30..80", 'name=="Pisa","Louvre"'])
async def test_q_value_index_both_ways(city: EntityStore, q: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain comparison starts from the value index or checks it entity by entity: the same answer."""
    from dosi.store import postgres, sqlite

    first = await q_ids(city, q)
    monkeypatch.setattr(sqlite, "FEW_VALUES", 0)  # now every term counts as unselective
    monkeypatch.setattr(postgres, "FEW_VALUES", 0)
    assert await q_ids(city, q) == first != []


@pytest.mark.parametrize(
    ("attrs", "expected"), [(["visitors"], ["urn:b:3"]), (["owner", "speed"], ["urn:b:1", "urn:v:1"])]
)
async def test_attrs_from_the_index_or_entity_by_entity(
    city: EntityStore, attrs: list[str], expected: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dosi.store import postgres, sqlite

    assert await ids(city, attrs=[VOCAB + a for a in attrs]) == expected
    monkeypatch.setattr(sqlite, "FEW_VALUES", 0)  # now every attribute counts as one that many entities have
    monkeypatch.setattr(postgres, "FEW_VALUES", 0)
    assert await ids(city, attrs=[VOCAB + a for a in attrs]) == expected


async def test_bad_regex_is_bad_request(city: EntityStore) -> None:
    with pytest.raises(BadRequestData):
        await q_ids(city, 'name~="(unclosed"')


@pytest.mark.parametrize(
    ("scope_q", "expected"),
    [
        ("/Paris/Centre", ["urn:b:1"]),
        ("/Paris/#", ["urn:b:1"]),
        ("/#", ["urn:b:1", "urn:b:2"]),
        ("/Italy/+", ["urn:b:2"]),
        ("/Pisa;/Italy/Tuscany", ["urn:b:2"]),
        ("/Pisa,/Paris/Centre", ["urn:b:1", "urn:b:2"]),
        ("/Italy", []),
    ],
)
async def test_scope_queries(city: EntityStore, scope_q: str, expected: list[str]) -> None:
    assert await ids(city, scope_q=parse_scope_query(scope_q)) == expected


@pytest.mark.parametrize(
    ("georel", "geometry", "coords", "expected"),
    [
        ("equals", "Point", "[13.3986, 52.5547]", ["urn:b:1"]),
        ("near;maxDistance==15000", "Point", "[13.388930, 52.534473]", ["urn:b:1", "urn:b:3"]),
        ("near;minDistance==15000", "Point", "[13.388930, 52.534473]", ["urn:b:2"]),
        (
            "within",
            "Polygon",
            "[[[13.0,52.4],[13.5,52.4],[13.5,52.6],[13.0,52.6],[13.0,52.4]]]",
            ["urn:b:1", "urn:b:3"],
        ),
        ("disjoint", "Polygon", "[[[13.0,52.4],[13.5,52.4],[13.5,52.6],[13.0,52.6],[13.0,52.4]]]", ["urn:b:2"]),
        ("intersects", "LineString", "[[13.3986, 52.0], [13.3986, 53.0]]", ["urn:b:1"]),
        ("contains", "Point", "[13.3986, 52.5547]", ["urn:b:1"]),
    ],
)
async def test_geo_queries(city: EntityStore, georel: str, geometry: str, coords: str, expected: list[str]) -> None:
    geo = parse_geo_query(georel, geometry, coords, None)
    assert geo is not None
    geo = type(geo)(
        geo.georel, geo.geometry, "https://uri.etsi.org/ngsi-ld/location", geo.max_distance, geo.min_distance
    )
    assert await ids(city, geo=geo) == expected


async def test_near_of_one_type_reads_only_that_types_geometries(store: EntityStore) -> None:
    """A query of one type and near: other types, other tenants, other geo attributes there do not answer."""
    here, far = POINT_A, POINT_B
    space = {"type": "GeoProperty", "value": far}  # a second geometry: the location sits in the next R*Tree slot
    await put(
        store,
        make("urn:b:1", location=here),
        make("urn:b:2", "Vehicle", location=here),
        make("urn:b:3", observationSpace=space, location=here),
        make("urn:b:4", location=far, observationSpace={"type": "GeoProperty", "value": here}),
        make("urn:b:5", ["Vehicle", "Building"], location=here),
    )
    await put(store, make("urn:b:6", location=here), tenant="other")
    close = near(here["coordinates"], 100)
    assert await ids(store, types=types("Building"), geo=close) == ["urn:b:1", "urn:b:3", "urn:b:5"]
    assert await ids(store, types=types("Vehicle"), geo=close) == ["urn:b:2", "urn:b:5"]
    assert await ids(store, types=types("Building"), geo=near(far["coordinates"], 100)) == ["urn:b:4"]
    assert await ids(store, tenant="other", types=types("Building"), geo=close) == ["urn:b:6"]


async def test_near_across_the_antimeridian(store: EntityStore) -> None:
    east = {"type": "Point", "coordinates": [179.9995, -16.5]}  # Fiji, 107 m apart across the date line
    west = {"type": "Point", "coordinates": [-179.9995, -16.5]}
    await put(store, make("urn:b:1", location=east), make("urn:b:2", location=west))
    assert await ids(store, types=types("Building"), geo=near(west["coordinates"], 150)) == ["urn:b:1", "urn:b:2"]
    assert await ids(store, geo=near(east["coordinates"], 150)) == ["urn:b:1", "urn:b:2"]
    assert await ids(store, geo=near(east["coordinates"], 50)) == ["urn:b:1"]


async def test_paging_count_and_order(city: EntityStore) -> None:
    page1 = await store_query(city, limit=2, offset=0, count=True)
    page2 = await store_query(city, limit=2, offset=2, count=True)
    assert page1.count == page2.count == 4
    assert [e["id"] for e in page1.entities + page2.entities] == ["urn:b:1", "urn:b:2", "urn:b:3", "urn:v:1"]
    by_height = await ids(city, types=types("Building"), order_by=[(AttrPath(VOCAB + "height"), True)])
    assert by_height == ["urn:b:1", "urn:b:2", "urn:b:3"]
    by_id_desc = await ids(city, types=types("Building"), order_by=[("id", True)])
    assert by_id_desc == ["urn:b:3", "urn:b:2", "urn:b:1"]


async def store_query(store: EntityStore, **kwargs: Any) -> Any:
    return await store.query(EntityQuery(**kwargs))


async def test_discovery_covers_every_entity(city: EntityStore) -> None:
    infos = {t.type: t for t in await city.types("")}
    assert infos[VOCAB + "Building"].count == 3
    assert infos[VOCAB + "Museum"].attributes[VOCAB + "visitors"] == {"Property"}
    attrs = {a.attr: a for a in await city.attributes("")}
    assert [a.count for a in await city.attributes("", VOCAB + "name")] == [4]
    assert attrs[VOCAB + "owner"].attribute_types == {"Relationship"}
    assert attrs["https://uri.etsi.org/ngsi-ld/location"].types == {VOCAB + "Building", VOCAB + "Museum"}
    only = await city.types("", VOCAB + "Vehicle")
    assert [t.count for t in only] == [1]


async def test_delete_matching(city: EntityStore) -> None:
    async with city.transaction("") as tx:
        assert (
            await tx.delete_matching(EntityQuery(types=types("Building"), q=expand_q(parse_q("height<100"), CTX))) == 2
        )
    assert await ids(city, types=types("Building", "Vehicle")) == ["urn:b:1", "urn:v:1"]
    assert {t.type: t.count for t in await city.types("")}[VOCAB + "Building"] == 1


async def test_contexts(store: EntityStore) -> None:
    item = StoredContext("urn:c:1", "http://x/c.jsonld", "Hosted", {"@context": {"a": "urn:a"}}, "2026-01-01T00:00:00Z")
    await store.put_context(item)
    assert await store.get_context("urn:c:1") == item
    assert [c.id for c in await store.list_contexts()] == ["urn:c:1"]
    assert await store.delete_context("urn:c:1")
    assert not await store.delete_context("urn:c:1")
    assert await store.get_context("urn:c:1") is None


async def next_seq_from(store: EntityStore, start: int) -> None:
    """The next entity written gets storage order `start` (entities far apart land in other buckets and spans)."""
    from dosi.store.postgres import PostgresStore
    from dosi.store.sqlite import SqliteStore

    if isinstance(store, PostgresStore):
        await store.pool.execute(f"ALTER SEQUENCE entities_seq_seq RESTART WITH {start}")
    else:
        assert isinstance(store, SqliteStore)
        with store.db:
            store.db.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'entities'", (start - 1,))


async def test_deep_pages_seek_exactly_across_buckets_and_spans(
    store: EntityStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dosi.store.postgres
    import dosi.store.sqlite

    monkeypatch.setattr(dosi.store.sqlite, "DEEP_PAGE", 2)
    monkeypatch.setattr(dosi.store.postgres, "DEEP_PAGE", 2)
    number = 0
    # runs of entities in bucket 0, bucket 1, the next span (2^18), a later span and the bucket after it
    for start in (1, 5_000, 270_000, 1_100_000, 1_105_000):
        await next_seq_from(store, start)
        async with store.transaction("") as tx:
            for _ in range(12):
                assert await tx.insert(make(f"urn:s:{number:03d}", "Sensor" if number % 4 else "Other"))
                number += 1
    async with store.transaction("") as tx:
        for gone in (13, 26, 50):
            assert await tx.delete(f"urn:s:{gone:03d}")
    walked = await store.query(EntityQuery(types=types("Sensor"), limit=100))
    expected = [e["id"] for e in walked.entities]
    assert len(expected) == 42
    for offset in range(0, 45, 4):
        got = await store.query(EntityQuery(types=types("Sensor"), limit=5, offset=offset, count=True))
        assert [e["id"] for e in got.entities] == expected[offset : offset + 5], offset
        assert got.count == 42


async def test_deep_pages_seek_exactly(store: EntityStore, monkeypatch: pytest.MonkeyPatch) -> None:
    import dosi.store.postgres
    import dosi.store.sqlite

    monkeypatch.setattr(dosi.store.sqlite, "DEEP_PAGE", 2)
    monkeypatch.setattr(dosi.store.postgres, "DEEP_PAGE", 2)

    async def write(numbers: range) -> None:
        async with store.transaction("") as tx:
            for i in numbers:
                assert await tx.insert(make(f"urn:s:{i:03d}", "Sensor" if i % 3 else "Other"))
            await asyncio.sleep(0.01)  # the writers overlap: on PostgreSQL each counts on a connection of its own

    await asyncio.gather(*(write(range(start, start + 15)) for start in range(0, 60, 15)))
    async with store.transaction("") as tx:
        for i in (4, 5, 31):
            await tx.delete(f"urn:s:{i:03d}")
    walked = await store.query(EntityQuery(types=types("Sensor"), limit=100))  # offset 0: no seek, storage order
    expected = [e["id"] for e in walked.entities]
    assert sorted(expected) == [f"urn:s:{i:03d}" for i in range(60) if i % 3 and i not in (4, 5, 31)]
    for offset in (0, 3, 7, 25, 38, 39, 50):
        got = await store.query(EntityQuery(types=types("Sensor"), limit=5, offset=offset, count=True))
        assert [e["id"] for e in got.entities] == expected[offset : offset + 5]
        assert got.count == len(expected)
