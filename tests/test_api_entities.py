"""The NGSI-LD entity API in process, on both backends."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.conftest import entity

LD = {"Content-Type": "application/ld+json"}
CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"

FULL = entity(
    "urn:ngsi-ld:Building:full",
    name={"type": "Property", "value": "City Hall", "observedAt": "2024-01-01T00:00:00.000Z"},
    height={"type": "Property", "value": 42, "unitCode": "MTR", "source": {"type": "Property", "value": "survey"}},
    owner={"type": "Relationship", "object": "urn:ngsi-ld:Org:city"},
    location={"type": "GeoProperty", "value": {"type": "Point", "coordinates": [126.97, 37.56]}},
    label={"type": "LanguageProperty", "languageMap": {"ko": "시청", "en": "City Hall"}},
    category={"type": "VocabProperty", "vocab": "civic"},
    config={"type": "JsonProperty", "json": {"a": [1, None], "type": "x"}},
    floors={"type": "ListProperty", "valueList": [1, 2, 3]},
    tenants={"type": "ListRelationship", "objectList": [{"object": "urn:ngsi-ld:Org:a"}]},
    scope="/Seoul/Jung",
)


async def test_normalized_round_trip(client: httpx.AsyncClient) -> None:
    created = await client.post("/entities", json=FULL)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/ngsi-ld/v1/entities/urn:ngsi-ld:Building:full"
    got = await client.get("/entities/urn:ngsi-ld:Building:full")
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/json"
    assert got.json() == FULL
    assert CORE in got.headers["link"]


async def test_concise_and_simplified(client: httpx.AsyncClient) -> None:
    await client.post("/entities", json=FULL)
    concise = (await client.get("/entities/urn:ngsi-ld:Building:full", params={"options": "concise"})).json()
    assert concise["name"] == {"value": "City Hall", "observedAt": "2024-01-01T00:00:00.000Z"}
    assert concise["owner"] == {"object": "urn:ngsi-ld:Org:city"}
    simple = (await client.get("/entities/urn:ngsi-ld:Building:full", params={"format": "simplified"})).json()
    assert simple["height"] == 42 and simple["owner"] == "urn:ngsi-ld:Org:city"
    assert simple["location"] == {"type": "Point", "coordinates": [126.97, 37.56]}
    # a concise body is accepted as input and reads back the same
    body = {
        "id": "urn:ngsi-ld:Building:c",
        "type": "Building",
        **{k: v for k, v in concise.items() if k not in ("id", "type")},
    }
    assert (await client.post("/entities", json=body)).status_code == 201
    again = (await client.get("/entities/urn:ngsi-ld:Building:c", params={"options": "concise"})).json()
    assert again == {**concise, "id": "urn:ngsi-ld:Building:c"}


async def test_key_values_create(client: httpx.AsyncClient) -> None:
    body = {
        "id": "urn:ngsi-ld:Sensor:kv",
        "type": "Sensor",
        "pm25": 13,
        "location": {"type": "Point", "coordinates": [1, 2]},
    }
    assert (await client.post("/entities", json=body, params={"options": "keyValues"})).status_code == 201
    got = (await client.get("/entities/urn:ngsi-ld:Sensor:kv")).json()
    assert got["pm25"] == {"type": "Property", "value": 13}
    assert got["location"]["type"] == "GeoProperty"


async def test_lang_sysattrs_geojson(client: httpx.AsyncClient) -> None:
    await client.post("/entities", json=FULL)
    ko = (await client.get("/entities/urn:ngsi-ld:Building:full", params={"lang": "ko"})).json()
    assert ko["label"] == {"type": "Property", "value": "시청", "lang": "ko"}
    sys = (await client.get("/entities/urn:ngsi-ld:Building:full", params={"options": "sysAttrs"})).json()
    assert sys["createdAt"].endswith("Z") and sys["name"]["modifiedAt"].endswith("Z")
    geo = await client.get("/entities/urn:ngsi-ld:Building:full", headers={"Accept": "application/geo+json"})
    assert geo.headers["content-type"] == "application/geo+json"
    feature = geo.json()
    assert feature["type"] == "Feature" and feature["geometry"]["coordinates"] == [126.97, 37.56]
    assert feature["properties"]["name"]["value"] == "City Hall"


async def test_query_and_count(client: httpx.AsyncClient) -> None:
    for i in range(5):
        await client.post(
            "/entities", json=entity(f"urn:ngsi-ld:Building:{i}", height={"type": "Property", "value": i})
        )
    got = await client.get("/entities", params={"type": "Building", "q": "height>=2", "count": "true", "limit": 2})
    assert got.headers["ngsild-results-count"] == "3"
    assert [e["id"] for e in got.json()] == ["urn:ngsi-ld:Building:2", "urn:ngsi-ld:Building:3"]
    too_many = await client.get("/entities", params={"type": "Building", "limit": 100000})
    assert too_many.status_code == 403
    assert too_many.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/TooManyResults"
    no_filter = await client.get("/entities")
    assert no_filter.status_code == 400


async def test_attribute_operations(client: httpx.AsyncClient) -> None:
    eid = "urn:ngsi-ld:Building:ops"
    await client.post("/entities", json=entity(eid, speed={"type": "Property", "value": 1}))
    append = await client.post(
        f"/entities/{eid}/attrs",
        params={"options": "noOverwrite"},
        json={"speed": {"type": "Property", "value": 9}, "new": {"type": "Property", "value": 2}},
    )
    assert append.status_code == 207
    assert append.json()["notUpdated"][0]["attributeName"].endswith("/speed")
    assert (await client.patch(f"/entities/{eid}/attrs/speed", json={"value": 5})).status_code == 204
    assert (await client.patch(f"/entities/{eid}/attrs/missing", json={"value": 5})).status_code == 404
    assert (await client.put(f"/entities/{eid}/attrs/speed", json={"type": "Property", "value": 7})).status_code == 204
    got = (await client.get(f"/entities/{eid}")).json()
    assert got["speed"]["value"] == 7 and got["new"]["value"] == 2
    merge = await client.patch(
        f"/entities/{eid}",
        json={"new": "urn:ngsi-ld:null", "extra": 1},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert merge.status_code == 204
    got = (await client.get(f"/entities/{eid}")).json()
    assert "new" not in got and got["extra"] == {"type": "Property", "value": 1}
    assert (await client.delete(f"/entities/{eid}/attrs/speed")).status_code == 204
    assert (await client.delete(f"/entities/{eid}/attrs/speed")).status_code == 404


async def test_multi_instance_attributes(client: httpx.AsyncClient) -> None:
    eid = "urn:ngsi-ld:Vehicle:m"
    speeds = [{"type": "Property", "value": 1}, {"type": "Property", "value": 2, "datasetId": "urn:ds:gps"}]
    await client.post("/entities", json=entity(eid, type="Vehicle", speed=speeds))
    gps = (await client.get(f"/entities/{eid}", params={"datasetId": "urn:ds:gps"})).json()
    assert gps["speed"] == speeds[1]
    await client.delete(f"/entities/{eid}/attrs/speed", params={"datasetId": "urn:ds:gps"})
    assert (await client.get(f"/entities/{eid}")).json()["speed"] == speeds[0]


async def test_batch_operations(client: httpx.AsyncClient) -> None:
    items = [entity(f"urn:ngsi-ld:Building:b{i}") for i in range(3)]
    created = await client.post("/entityOperations/create", json=items)
    assert created.status_code == 201 and sorted(created.json()) == sorted(i["id"] for i in items)
    again = await client.post("/entityOperations/create", json=items[:1] + [entity("urn:ngsi-ld:Building:b9")])
    assert again.status_code == 207
    assert again.json()["success"] == ["urn:ngsi-ld:Building:b9"]
    assert again.json()["errors"][0]["error"]["type"].endswith("AlreadyExists")
    upsert = await client.post("/entityOperations/upsert", json=[entity("urn:ngsi-ld:Building:b0", x=1)])
    assert upsert.status_code == 204
    deleted = await client.post("/entityOperations/delete", json=["urn:ngsi-ld:Building:b0", "urn:ngsi-ld:Building:zz"])
    assert deleted.status_code == 207
    query = await client.post("/entityOperations/query", json={"type": "Query", "entities": [{"type": "Building"}]})
    assert sorted(e["id"] for e in query.json()) == [
        "urn:ngsi-ld:Building:b1",
        "urn:ngsi-ld:Building:b2",
        "urn:ngsi-ld:Building:b9",
    ]


async def test_bad_batch_item_writes_nothing_of_it(client: httpx.AsyncClient) -> None:
    items = [
        entity("urn:ngsi-ld:Building:ok"),
        entity("urn:ngsi-ld:Building:bad", name={"type": "Property", "value": None}),
    ]
    answer = await client.post("/entityOperations/create", json=items)
    assert answer.status_code == 207
    assert (await client.get("/entities/urn:ngsi-ld:Building:bad")).status_code == 404
    assert (await client.get("/entities/urn:ngsi-ld:Building:ok")).status_code == 200


async def test_tenants_are_isolated(client: httpx.AsyncClient) -> None:
    await client.post("/entities", json=entity("urn:ngsi-ld:Building:t"), headers={"NGSILD-Tenant": "seoul"})
    assert (await client.get("/entities/urn:ngsi-ld:Building:t")).status_code == 404
    got = await client.get("/entities/urn:ngsi-ld:Building:t", headers={"NGSILD-Tenant": "seoul"})
    assert got.status_code == 200
    busan = await client.get("/entities", params={"type": "Building"}, headers={"NGSILD-Tenant": "busan"})
    assert busan.status_code == 404 and busan.json()["type"].endswith("NonexistentTenant")
    types = await client.get("/types")
    assert types.json()["typeList"] == []


async def test_context_via_link_and_inline(client: httpx.AsyncClient) -> None:
    ctx = {"@context": {"Tower": "https://example.org/Tower", "tall": "https://example.org/tall"}}
    hosted = await client.post("/jsonldContexts", json=ctx)
    assert hosted.status_code == 201
    url = "http://dosi.test" + hosted.headers["location"]
    body = {"id": "urn:ngsi-ld:Tower:1", "type": "Tower", "tall": True, "@context": [url]}
    assert (await client.post("/entities", json=body, headers=LD)).status_code == 201
    plain = (await client.get("/entities/urn:ngsi-ld:Tower:1")).json()
    assert plain["type"] == "https://example.org/Tower"
    link = f'<{url}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
    compact = await client.get("/entities/urn:ngsi-ld:Tower:1", headers={"Link": link, "Accept": "application/ld+json"})
    assert compact.json() == {
        "id": "urn:ngsi-ld:Tower:1",
        "type": "Tower",
        "tall": {"type": "Property", "value": True},
        "@context": url,
    }


async def test_remote_context_to_loopback_is_refused_by_default(client: httpx.AsyncClient) -> None:
    body = {"id": "urn:ngsi-ld:X:1", "type": "X", "@context": "http://127.0.0.1:9/ctx.jsonld"}
    answer = await client.post("/entities", json=body, headers=LD)
    assert answer.status_code == 503
    assert answer.json()["type"].endswith("LdContextNotAvailable")
    assert "DOSI_OUTBOUND_ALLOW" in answer.json()["detail"]


async def test_purge_with_keep(client: httpx.AsyncClient) -> None:
    await client.post("/entities", json=entity("urn:ngsi-ld:Building:p", a=1, b=2))
    assert (await client.delete("/entities", params={"type": "Building", "keep": "a"})).status_code == 204
    assert set((await client.get("/entities/urn:ngsi-ld:Building:p")).json()) == {"id", "type", "a"}
    assert (await client.delete("/entities", params={"type": "Building"})).status_code == 204
    assert (await client.get("/entities/urn:ngsi-ld:Building:p")).status_code == 404


@pytest.mark.parametrize("path", ["/types", "/attributes"])
async def test_discovery(client: httpx.AsyncClient, path: str) -> None:
    await client.post("/entities", json=entity("urn:ngsi-ld:Building:d", height=1))
    got = await client.get(path, params={"details": "true"})
    assert got.status_code == 200 and len(got.json()) >= 1


async def test_concurrent_upserts_of_new_entities_all_succeed(client: httpx.AsyncClient) -> None:
    """Two writers upserting the same new ids at once: one creates them, the other updates them; none fails."""
    for round_ in range(5):
        batch = [entity(f"urn:ngsi-ld:Building:race-{round_}-{n}", height={"value": n}) for n in range(20)]
        answers = await asyncio.gather(*(client.post("/entityOperations/upsert", json=batch) for _ in range(4)))
        assert {a.status_code for a in answers} <= {201, 204}, [a.text for a in answers]
        query = {"type": "Building", "idPattern": f"race-{round_}-", "count": "true"}
        listed = await client.get("/entities", params=query)
        assert listed.headers["NGSILD-Results-Count"] == "20"
