"""The sources against real parts: Mosquitto for MQTT (with a restart in the middle), recorded responses of the
Korean public data portal for polling (the one thing outside this machine), and files for import."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest

from dosi.api.hub import Hub, open_store
from dosi.ingest import coordinator
from dosi.ingest.config import SourceConfig
from dosi.ingest.pipeline import Pipeline
from dosi.ingest.source import Message
from dosi.ingest.sources.mqtt import MqttSource
from dosi.ingest.sources.poll import PollSource
from dosi.outbound import OutboundGuard
from dosi.settings import Settings
from dosi.store.base import EntityQuery, EntityStore, TimeWindow

FIXTURES = Path(__file__).parent / "fixtures" / "opendata"
DEMO_SOURCES = Path(__file__).parents[1] / "src" / "dosi" / "demo" / "sources"
PARKING = "https://smartdatamodels.org/dataModel.Parking/ParkingSpot"


@pytest.fixture
async def hub(settings: Settings, store: EntityStore) -> Hub:
    return Hub.build(settings, store)


def source(hub: Hub, name: str, **replace: str) -> Pipeline:
    text = (DEMO_SOURCES / f"{name}.toml").read_text(encoding="utf-8")
    for old, new in replace.items():
        text = text.replace(old, new)
    return Pipeline(SourceConfig.parse(text, hub.models.registry), hub.ingest.writer)


def recorded(pages: dict[str, str]) -> httpx.MockTransport:
    """The portal, answering from files by pageNo (and remembering what was asked)."""
    asked: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        name = pages[request.url.params.get("pageNo", "1")]
        return httpx.Response(200, content=(FIXTURES / name).read_bytes())

    transport = httpx.MockTransport(answer)
    transport.asked = asked  # type: ignore[attr-defined]
    return transport


async def test_polling_the_air_quality_api(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_GO_KR_KEY", "test-key")
    pipeline = source(hub, "airkorea", **{"page_size = 100": "page_size = 10"})
    transport = recorded({"1": "airkorea_ctprvn_page1.json", "2": "airkorea_ctprvn_page2.json"})
    poll = PollSource(pipeline.config, OutboundGuard(["apis.data.go.kr"]), transport)
    assert await poll.poll_once(pipeline.deliver) == 2
    first = transport.asked[0].url.params  # type: ignore[attr-defined]
    assert first["serviceKey"] == "test-key" and first["sidoName"] == "서울" and first["pageNo"] == "1"
    status = pipeline.status
    assert status.messages_in == 2 and status.records_in == 14
    stored = await hub.store.query(EntityQuery(tenant="", ids=["urn:ngsi-ld:AirQualityObserved:seoul:중구"], limit=1))
    (junggu,) = stored.entities
    pm25 = junggu["attrs"]["https://smartdatamodels.org/dataModel.Environment/pm25"][0]
    assert pm25["value"] == 22 and pm25["unitCode"] == "GQ" and pm25["observedAt"] == "2026-11-21T05:00:00.000Z"
    rejected = await hub.store.rejections("airkorea-seoul", 0, 100, pending=True)
    # roadside stations have no row in the district station table, so no position: the model requires one
    assert rejected and all("no position in fields lat, lon" in r.reason for r in rejected)
    assert status.stored + status.rejected == 14 and status.stored >= 8
    again = await poll.poll_once(pipeline.deliver)  # the same hour polled again stores nothing new
    assert again == 2 and pipeline.status.duplicates == status.stored


async def test_a_bad_service_key_is_an_error_of_the_source(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_GO_KR_KEY", "wrong")
    pipeline = source(hub, "airkorea")
    poll = PollSource(pipeline.config, OutboundGuard(["apis.data.go.kr"]), recorded({"1": "airkorea_error_key.xml"}))
    with pytest.raises(PermissionError, match="SERVICE_KEY_IS_NOT_REGISTERED_ERROR"):
        await poll.poll_once(pipeline.deliver)
    assert pipeline.status.stored == 0


async def test_polling_xml_and_path_paging(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_GO_KR_KEY", "k")
    pipeline = source(hub, "airkorea", **{'"json"': '"xml"', '"response.body.items"': '"response.body.items.item"'})
    pages = recorded({"1": "airkorea_ctprvn_page1.xml", "2": "airkorea_ctprvn_page2.json"})
    poll = PollSource(pipeline.config, OutboundGuard(["apis.data.go.kr"]), pages)
    assert await poll.poll_once(pipeline.deliver) == 1  # totalCount 14 fits one page of 100
    assert (pipeline.status.records_in, pipeline.status.stored, pipeline.status.rejected) == (10, 6, 4)
    stored = await hub.store.get("", "urn:ngsi-ld:AirQualityObserved:seoul:성동구")
    assert stored is not None  # its values came with stray spaces: " 38", "21 "
    assert stored["attrs"]["https://smartdatamodels.org/dataModel.Environment/pm25"][0]["value"] == 21
    monkeypatch.setenv("SEOUL_OPEN_API_KEY", "sample")
    bikes = source(hub, "seoul-bike")
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return httpx.Response(200, content=(FIXTURES / "seoul_bike_1_5.json").read_bytes())

    poll = PollSource(bikes.config, OutboundGuard(["openapi.seoul.go.kr"]), httpx.MockTransport(answer))
    await poll.poll_once(bikes.deliver)
    assert asked == ["/sample/json/bikeList/1/1000/"]
    assert bikes.status.stored == 5


@pytest.mark.mqtt
async def test_mqtt_at_least_once_across_a_restart(hub: Hub, mosquitto: int) -> None:
    pipeline = source(hub, "parking", **{"mqtt://127.0.0.1:1883": f"mqtt://127.0.0.1:{mosquitto}"})
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    publisher.connect("127.0.0.1", mosquitto)
    publisher.loop_start()

    def publish(spot: int, minute: int, occupied: Any = True) -> None:
        body = {"occupied": occupied, "ts": 1_763_700_000_000 + minute * 60_000, "lat": 37.5665, "lon": 126.978}
        publisher.publish(f"city/parking/gangnam/{spot}", json.dumps(body), qos=1).wait_for_publish(5)

    async def run_until(stored: int) -> None:
        mqtt_source = MqttSource(pipeline.config)
        task = asyncio.create_task(mqtt_source.run(pipeline.deliver))
        try:
            async with asyncio.timeout(20):
                await mqtt_source.subscribed.wait()
                while pipeline.status.stored + pipeline.status.rejected < stored:
                    await asyncio.sleep(0.05)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    await run_until(0)  # subscribe once: the broker now keeps this session's messages
    for minute in range(20):
        publish(minute % 4, minute)
    await run_until(20)
    for minute in range(20, 50):  # the hub is down: the broker holds these
        publish(minute % 4, minute, occupied=minute % 2 == 0)
    publish(9, 50, occupied="maybe")  # a bad message among them
    await run_until(51)
    publisher.loop_stop()
    reasons = {r.reason for r in await hub.store.rejections(None, 0, 100, pending=False)}
    assert pipeline.status.stored == 50 and pipeline.status.rejected == 1, reasons
    ids = [f"urn:ngsi-ld:ParkingSpot:gangnam:{n}" for n in range(4)]
    spots = await hub.store.query(EntityQuery(tenant="", ids=ids, limit=10))
    assert spots.entities[0]["type"] == [PARKING] and len(spots.entities) == 4
    latest = spots.entities[1]["attrs"]["https://uri.etsi.org/ngsi-ld/status"][0]  # the core context's `status`
    assert latest["value"] == "free" and latest["observedAt"].startswith("2025-11-21T05:")  # minute 49, odd: free
    rows = await hub.store.history("", ids, None, TimeWindow())
    status_rows = [r for r in rows if r.attr.endswith("/status")]
    assert len(status_rows) == 50  # every reading once, none lost across the restart
    (bad,) = await hub.store.rejections("parking-sensors", 0, 10, pending=True)
    assert "'maybe' is not one of" in bad.reason
    assert json.loads(bad.payload)["$topic"] == ["city", "parking", "gangnam", "9"]


@pytest.mark.mqtt
async def test_mqtt_shared_by_two_processes_and_taken_over(
    settings: Settings, store: EntityStore, mosquitto: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two hubs on one store share the parking source (one slot each, the broker dealing messages between them);
    when one stops, the other takes its slot over and with it what the broker kept for that slot's session."""
    monkeypatch.setattr(coordinator, "LEAD_RETRY", 0.2)
    text = (DEMO_SOURCES / "parking.toml").read_text(encoding="utf-8")
    (tmp_path / "parking.toml").write_text(text.replace("127.0.0.1:1883", f"127.0.0.1:{mosquitto}"), "utf-8")
    shared = settings.model_copy(
        update={"ingest_shares": 2, "ingest_sources": str(tmp_path / "parking.toml"), "ingest_status_interval": 0.1}
    )
    hubs = [Hub.build(shared, open_store(shared)) for _ in range(2)]
    for hub in hubs:
        await hub.store.open()
        await hub.ingest.start()
    publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    publisher.connect("127.0.0.1", mosquitto)
    publisher.loop_start()

    def publish(spot: str, minute: int) -> None:
        body = {"occupied": minute % 2 == 0, "ts": 1_763_700_000_000 + minute * 60_000, "lat": 37.5, "lon": 127.0}
        publisher.publish(f"city/parking/yeoksam/{spot}", json.dumps(body), qos=1).wait_for_publish(5)

    def stored(hub: Hub) -> int:
        return sum(p.status.stored + p.status.duplicates for p in hub.ingest.shared.values())

    async def until(done: Callable[[], bool]) -> None:
        async with asyncio.timeout(30):
            while not done():
                await asyncio.sleep(0.05)

    async def history_count() -> int:
        rows = await store.history("", [f"urn:ngsi-ld:ParkingSpot:yeoksam:{n}" for n in range(4)], None, TimeWindow())
        return sum(1 for r in rows if r.attr.endswith("/status"))

    try:
        minute = 0
        async with asyncio.timeout(30):  # until both slots are subscribed: each has stored a warm-up reading
            while not (stored(hubs[0]) and stored(hubs[1])):
                publish("warm", minute := minute + 1)
                await asyncio.sleep(0.1)
        assert [sorted(slot for _, slot in h.ingest.shared) for h in hubs] in ([[0], [1]], [[1], [0]])
        before = [stored(h) for h in hubs]
        for n in range(40):
            publish(str(n % 4), 100 + n)
        await until(lambda: sum(stored(h) for h in hubs) == sum(before) + 40)
        assert all(stored(h) > b for h, b in zip(hubs, before, strict=True))  # the broker dealt to both slots
        assert await history_count() == 40
        async with asyncio.timeout(30):  # both slots' counts: one saved by the other hub, one live
            while (status := (await hubs[1].ingest.statuses())[0])["stored"] + status["duplicates"] < sum(before) + 40:
                await asyncio.sleep(0.1)
        assert status["name"] == "parking-sensors" and status["share"] == "2 slots"
        await asyncio.sleep(0.3)  # both slots saved: `dosi ingest status`, a process that does not know the shares
        cli = Hub.build(settings.model_copy(update={"ingest_sources": str(tmp_path / "parking.toml")}), store)
        (seen,) = await cli.ingest.statuses()
        assert seen["share"] == "2 slots" and seen["stored"] + seen["duplicates"] >= sum(before) + 40
        await hubs[0].ingest.stop()
        await hubs[0].store.close()  # as if the process ended: its slot is free
        for n in range(20):
            publish(str(n % 4), 200 + n)
        await until(lambda: len(hubs[1].ingest.shared) == 2)
        async with asyncio.timeout(30):
            while await history_count() < 60:
                await asyncio.sleep(0.1)
        assert await history_count() == 60  # nothing lost, nothing twice
        spots = await store.query(
            EntityQuery(tenant="", ids=[f"urn:ngsi-ld:ParkingSpot:yeoksam:{n}" for n in range(4)], limit=10)
        )
        newest = {spot["id"]: spot["attrs"]["https://uri.etsi.org/ngsi-ld/status"][0] for spot in spots.entities}
        for n in range(4):  # each spot holds its newest reading (minute 216 + n), whichever hub wrote last
            assert newest[f"urn:ngsi-ld:ParkingSpot:yeoksam:{n}"]["observedAt"] == f"2025-11-21T08:{16 + n}:00.000Z"
    finally:
        publisher.loop_stop()
        await hubs[1].ingest.stop()
        await hubs[1].store.close()


async def test_descriptive_attributes_get_no_history_per_reading(hub: Hub) -> None:
    """The parking source's category (a constant) and site (observed = false) are written once, not with every
    reading; the status is a reading each time, even when unchanged."""
    pipeline = source(hub, "parking")
    for minute in range(3):
        body = {"occupied": True, "ts": 1_763_700_000_000 + minute * 60_000, "lat": 37.5, "lon": 127.0}
        await pipeline.feed([Message(json.dumps(body).encode(), {"topic": ["city", "parking", "jamsil", "7"]})])
    rows = await hub.store.history("", ["urn:ngsi-ld:ParkingSpot:jamsil:7"], None, TimeWindow())
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.attr.rsplit("/", 1)[-1]] = counts.get(row.attr.rsplit("/", 1)[-1], 0) + 1
    assert counts == {"status": 3, "category": 1, "refParkingSite": 1, "location": 1}
    spot = await hub.store.get("", "urn:ngsi-ld:ParkingSpot:jamsil:7")
    assert spot is not None and spot["attrs"]["https://uri.etsi.org/ngsi-ld/status"][0]["observedAt"].endswith(
        "04:42:00.000Z"
    )
