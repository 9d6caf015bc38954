"""Ingest end to end, in process: every message ends up stored (once) or in the rejection log with its reason."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from dosi.api.app import create_app
from dosi.settings import Settings
from dosi.store.base import EntityStore

TRAFFIC = "https://smartdatamodels.org/dataModel.Transportation/TrafficFlowObserved"
SOURCE = """
name = "traffic"
kind = "http"
validation = "strict"
[mapping]
type = "TrafficFlowObserved"
id = "urn:ngsi-ld:TrafficFlowObserved:{detector}"
observed_at = { field = "time" }
location = { lat = "lat", lon = "lon" }
[mapping.attributes]
intensity = { field = "count", function = "number", required = true }
averageVehicleSpeed = { field = "speed", function = "number", unit_field = "unit" }
occupancy = { field = "occupancy", function = "number" }
congested = { field = "jam", map = { "Y" = true, "N" = false } }
"""


def reading(detector: str = "D1", minute: int = 0, **extra: Any) -> dict[str, Any]:
    return {"detector": detector, "time": f"2026-11-21T05:{minute:02d}:00Z", "count": 10 + minute, "speed": 36,
            "unit": "km/h", "lat": 37.5, "lon": 127.0, **extra}  # fmt: skip


@pytest.fixture
async def dosi(settings: Settings, store: EntityStore) -> AsyncIterator[httpx.AsyncClient]:
    await store.put_source("traffic", SOURCE, "2026-11-22T00:00:00Z")
    transport = httpx.ASGITransport(app=create_app(settings, store))
    async with httpx.AsyncClient(transport=transport, base_url="http://dosi.test") as http:
        yield http


async def push(dosi: httpx.AsyncClient, body: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return await dosi.post("/dosi/v1/ingest/traffic", content=content)


MODEL_LINK = (
    '<http://dosi.test/dosi/v1/models/TrafficFlowObserved/context>; rel="http://www.w3.org/ns/json-ld#context";'
    ' type="application/ld+json"'
)


async def history(dosi: httpx.AsyncClient, entity_id: str) -> list[Any]:
    answer = await dosi.get(
        f"/ngsi-ld/v1/temporal/entities/{entity_id}", params={"options": "temporalValues"}, headers={"Link": MODEL_LINK}
    )
    assert answer.status_code == 200, answer.text
    return [value for value, _ in answer.json()["intensity"]["values"]]


async def test_pushed_records_become_entities_with_history(dosi: httpx.AsyncClient) -> None:
    answer = await push(dosi, [reading(minute=0), reading(minute=5), reading("D2", 1)])
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"stored": 3, "duplicates": 0, "rejected": []}
    found = await dosi.get("/ngsi-ld/v1/entities", params={"type": TRAFFIC, "options": "keyValues"})
    by_id = {e["id"]: e for e in found.json()}
    d1 = by_id["urn:ngsi-ld:TrafficFlowObserved:D1"]
    assert d1[TRAFFIC.rsplit("/", 1)[0] + "/intensity"] == 15  # the newest reading is the current state
    assert await history(dosi, "urn:ngsi-ld:TrafficFlowObserved:D1") == [10, 15]
    again = await push(dosi, [reading(minute=0), reading(minute=5), reading("D2", 1)])  # delivered twice
    assert again.json() == {"stored": 0, "duplicates": 3, "rejected": []}
    assert await history(dosi, "urn:ngsi-ld:TrafficFlowObserved:D1") == [10, 15]
    late = await push(dosi, [reading(minute=3)])  # an older reading: history only
    assert late.json()["stored"] == 1
    assert await history(dosi, "urn:ngsi-ld:TrafficFlowObserved:D1") == [10, 13, 15]


async def test_bad_messages_land_in_the_rejection_log(dosi: httpx.AsyncClient) -> None:
    batch = [
        reading("D1"),
        {**reading(), "detector": ""},  # no id
        reading("D3", count="lots"),  # wrong type
        reading("D4", unit="furlong/fortnight"),  # unknown unit
        reading("D5", occupancy=1.7),  # out of the model's range (strict)
        reading("D6", jam="S"),  # a value the mapping does not know
    ]
    answer = await push(dosi, batch)
    assert answer.status_code == 207
    assert answer.json()["stored"] == 1
    unparseable = await push(dosi, b'{"detector": "D7", ')
    assert unparseable.status_code == 207
    log = (await dosi.get("/dosi/v1/ingest/rejected", params={"source": "traffic"})).json()
    reasons = [entry["reason"] for entry in log]
    assert len(reasons) == 6
    expected = ["no value for {detector}", "not a number: 'lots'", "unknown unit 'furlong/fortnight'",
                "occupancy", "'S' is not one of N, Y", "not valid JSON"]  # fmt: skip
    for wanted in expected:
        assert len([r for r in reasons if wanted in r]) == 1, (wanted, reasons)
    by_reason = {entry["reason"]: entry["payload"] for entry in log}
    assert any("must be smaller than or equal to 1" in r for r in reasons)
    lots = next(p for r, p in by_reason.items() if "lots" in r)
    assert orjson.loads(lots)["count"] == "lots"  # the raw record, for replay
    assert next(p for r, p in by_reason.items() if "JSON" in r) == '{"detector": "D7", '


async def test_rejections_replay_after_a_fix(dosi: httpx.AsyncClient, store: EntityStore) -> None:
    await push(dosi, [reading("D6", jam="S")])
    fixed = SOURCE.replace('"N" = false', '"N" = false, "S" = true')
    await store.put_source("traffic", fixed, "2026-11-22T00:00:01Z")
    done = (await dosi.post("/dosi/v1/ingest/rejected/replay", params={"source": "traffic"})).json()
    assert done == {"replayed": 1, "stored": 1, "rejected": 0, "unknown_source": 0}
    assert await history(dosi, "urn:ngsi-ld:TrafficFlowObserved:D6") == [10]
    pending = await dosi.get("/dosi/v1/ingest/rejected", params={"pending": "true"})
    assert pending.json() == []


async def test_unknown_source_is_404(dosi: httpx.AsyncClient) -> None:
    answer = await dosi.post("/dosi/v1/ingest/nowhere", content=b"{}")
    assert answer.status_code == 404
    assert answer.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"


async def test_models_are_served_and_registered(dosi: httpx.AsyncClient) -> None:
    listed = (await dosi.get("/dosi/v1/models")).json()
    assert len([m for m in listed if m["builtin"]]) == 10
    air = (await dosi.get("/dosi/v1/models/AirQualityObserved")).json()
    assert air["attributes"]["pm25"]["unitCode"] == "GQ" and air["title"]["ko"]
    schema = (await dosi.get("/dosi/v1/models/AirQualityObserved/schema")).json()
    assert schema["properties"]["pm25"]["type"] == "number"
    doc = {"type": "BusStop", "uri": "https://example.org/BusStop", "title": {"en": "Bus stop", "ko": "버스 정류장"},
           "attributes": {"boardings": {"kind": "Property", "schema": {"type": "integer", "minimum": 0},
                                        "unitCode": "H87", "privacy": "non-personal"}}}  # fmt: skip
    assert (await dosi.post("/dosi/v1/models", json=doc)).status_code == 201
    assert (await dosi.post("/dosi/v1/models", json=doc)).status_code == 204
    assert (await dosi.get("/dosi/v1/models/BusStop")).json()["attributes"]["boardings"]["unitCode"] == "H87"
    bad = await dosi.post("/dosi/v1/models", json={**doc, "attributes": {"x": {"schema": {"type": "nope"}}}})
    assert bad.status_code == 400 and "JSON Schema" in bad.json()["detail"]


@pytest.mark.parametrize("mode", ["strict", "warn", "off"])
async def test_api_writes_follow_the_validation_mode(database_url: str, store: EntityStore, mode: str) -> None:
    settings = Settings(database_url=database_url, outbound_allow="", validation_tenants={"city": mode})
    transport = httpx.ASGITransport(app=create_app(settings, store))
    async with httpx.AsyncClient(transport=transport, base_url="http://dosi.test") as http:
        spot = {
            "id": "urn:ngsi-ld:ParkingSpot:1",
            "type": "ParkingSpot",
            "status": {"type": "Property", "value": "maybe"},
        }
        answer = await http.post("/ngsi-ld/v1/entities", json=spot, headers={"NGSILD-Tenant": "city"})
        default = await http.post("/ngsi-ld/v1/entities", json=spot)  # the default tenant: DOSI_VALIDATION=off
        assert default.status_code == 201
        flagged = await store.rejections("api", 0, 10, pending=False)
        if mode == "strict":
            assert answer.status_code == 400, answer.text
            assert "does not fit its data model: entity must contain" in answer.json()["detail"]
            assert flagged == []
        elif mode == "warn":
            assert answer.status_code == 201
            assert [f.outcome for f in flagged] == ["flagged"] and "refParkingSite" in flagged[0].reason
        else:
            assert answer.status_code == 201 and flagged == []
        pair = [{**spot, "id": "urn:ngsi-ld:ParkingSpot:2"}, {"id": "urn:x:1", "type": "Thing"}]
        batch = await http.post("/ngsi-ld/v1/entityOperations/upsert", headers={"NGSILD-Tenant": "city"}, json=pair)
        if mode == "strict":  # one refused entity does not sink the others
            assert batch.status_code == 207 and batch.json()["success"] == ["urn:x:1"]
        else:
            assert batch.status_code in (201, 204)


def test_fixture_files_exist() -> None:
    assert Path("tests/fixtures/opendata/airkorea_ctprvn_page2.json").exists()


async def test_records_of_one_instant_with_different_attributes_are_both_kept(dosi: httpx.AsyncClient) -> None:
    first = {**reading("D8"), "jam": "Y"}
    second = {k: v for k, v in reading("D8").items() if k not in ("speed", "unit")} | {"occupancy": 0.4}
    assert (await push(dosi, [first])).json()["stored"] == 1
    assert (await push(dosi, [second])).json() == {"stored": 1, "duplicates": 0, "rejected": []}
    assert (await push(dosi, [first, second])).json() == {"stored": 0, "duplicates": 2, "rejected": []}
    found = await dosi.get("/ngsi-ld/v1/entities/urn:ngsi-ld:TrafficFlowObserved:D8", params={"options": "keyValues"},
                           headers={"Link": MODEL_LINK})  # fmt: skip
    assert found.json()["congested"] is True and found.json()["occupancy"] == 0.4
    assert await history(dosi, "urn:ngsi-ld:TrafficFlowObserved:D8") == [10]  # intensity at that instant, once


async def test_malformed_requests_get_a_4xx(dosi: httpx.AsyncClient) -> None:
    base = {"type": "X", "uri": "https://example.org/X", "attributes": {"a": {"schema": {"type": "number"}}}}
    bad_models = [
        {**base, "attributes": ["abc"]},
        {**base, "required": [["a"]]},
        {**base, "attributes": {"a": {"schema": {"type": "string", "pattern": "("}}}},
        {**base, "attributes": {"a": {"schema": {"$ref": "file:///etc/passwd"}}}},  # never read for a client
        {**base, "attributes": {"a": {"schema": {"$ref": "http://127.0.0.1:9/schema"}}}},
    ]
    for doc in bad_models:
        answer = await dosi.post("/dosi/v1/models", json=doc)
        assert answer.status_code == 400, (doc, answer.text)
    for params in ({"limit": "-1"}, {"limit": "many"}, {"after": "-5"}):
        assert (await dosi.get("/dosi/v1/ingest/rejected", params=params)).status_code == 400
    answer = await push(dosi, [reading("D9", lat="north")])  # a position that is no number
    assert answer.status_code == 207 and "position: not a number" in answer.json()["rejected"][0]["reason"]


def test_configs_of_the_wrong_shape_are_refused() -> None:
    from dosi.ingest.config import SourceConfig
    from dosi.ingest.mapping import MappingError
    from dosi.models.registry import ModelRegistry

    registry = ModelRegistry()
    broken = [
        SOURCE.replace('kind = "http"', 'kind = "http"\nformat = "csv"'),
        SOURCE.replace('observed_at = { field = "time" }', 'observed_at = { fmt = "x" }'),
        SOURCE.replace('location = { lat = "lat", lon = "lon" }', 'location = "x"'),
    ]
    for text in broken:
        assert text != SOURCE
        with pytest.raises(MappingError):
            SourceConfig.parse(text, registry)


async def test_an_admin_of_one_tenant_sees_its_own_rejections(store: EntityStore) -> None:
    from dosi.store.base import Rejection

    await store.add_rejections([Rejection("seoul", "s", "rejected", "r1", "{}", "t"),
                                Rejection("busan", "s", "rejected", "r2", "{}", "t")])  # fmt: skip
    mine = await store.rejections(None, 0, 10, pending=False, tenants=["seoul"])
    assert [r.reason for r in mine] == ["r1"]
    assert len(await store.rejections(None, 0, 10, pending=False)) == 2


async def test_a_nul_byte_body_is_logged_not_crashed_on(dosi: httpx.AsyncClient) -> None:
    answer = await push(dosi, b"\x00")  # PostgreSQL text cannot hold NUL: the log keeps it written out
    assert answer.status_code == 207 and "NUL" in answer.json()["rejected"][0]["reason"]
    log = (await dosi.get("/dosi/v1/ingest/rejected", params={"source": "traffic"})).json()
    assert log[-1]["payload"] == "\\u0000"


async def test_concurrent_batches_never_move_the_current_state_backwards(dosi: httpx.AsyncClient) -> None:
    """Two batches of one sensor written at once (two processes sharing a source do this): the entity is read under
    the write lock, so the older reading goes to the history and the newer one stays the current state."""
    assert (await push(dosi, [reading(minute=0)])).json()["stored"] == 1
    for newer, older in ((9, 2), (19, 12), (29, 22)):
        answers = await asyncio.gather(push(dosi, [reading(minute=newer)]), push(dosi, [reading(minute=older)]))
        assert [a.json()["stored"] for a in answers] == [1, 1]
        found = await dosi.get("/ngsi-ld/v1/entities/urn:ngsi-ld:TrafficFlowObserved:D1",
                               params={"options": "keyValues"}, headers={"Link": MODEL_LINK})  # fmt: skip
        assert found.json()["intensity"] == 10 + newer
    assert await history(dosi, "urn:ngsi-ld:TrafficFlowObserved:D1") == [10, 12, 19, 22, 29, 32, 39]
