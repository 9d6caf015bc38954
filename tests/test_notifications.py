"""Notifications end to end: outbox, delivery worker, a real HTTP receiver and a real Mosquitto."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest

from dosi.api.app import create_app
from dosi.api.hub import Hub, open_store
from dosi.notify.worker import DeliveryWorker
from dosi.settings import Settings
from dosi.store.base import EntityStore

API = "http://dosi.test/ngsi-ld/v1"


@dataclass
class Receiver:
    """A minimal HTTP server on 127.0.0.1 that records what it is sent."""

    fail_first: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        body = await reader.readexactly(int(headers.get("Content-Length", headers.get("content-length", "0"))))
        if self.fail_first > 0:
            self.fail_first -= 1
            status = b"503 Service Unavailable"
        else:
            status = b"200 OK"
            self.received.append({"headers": headers, "body": orjson.loads(body)})
            self.arrived.set()
        writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    async def wait_for(self, count: int, timeout: float = 10) -> list[dict[str, Any]]:
        async with asyncio.timeout(timeout):
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.received


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    server = await asyncio.start_server(rec.handle, "127.0.0.1", 0)
    rec.port = server.sockets[0].getsockname()[1]
    try:
        yield rec
    finally:
        server.close()  # not wait_closed(): a sender's kept-alive connection may still be open


@pytest.fixture
def notify_settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url, outbound_allow="127.0.0.1/32", notify_backoff_base=0.05, notify_poll_interval=0.05
    )


@pytest.fixture
async def hub_client(notify_settings: Settings, store: EntityStore) -> AsyncIterator[tuple[Hub, httpx.AsyncClient]]:
    app = create_app(notify_settings, store)
    hub: Hub = app.state.hub
    worker = DeliveryWorker(notify_settings, store, hub.notifier, hub.guard)
    await worker.start()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://dosi.test/ngsi-ld/v1") as client:
        yield hub, client
    await worker.stop()


def subscription(uri: str, **extra: Any) -> dict[str, Any]:
    body = {
        "id": "urn:ngsi-ld:Subscription:s1",
        "type": "Subscription",
        "entities": [{"type": "AirQualityObserved"}],
        "notification": {"endpoint": {"uri": uri, "accept": "application/json"}},
    }
    body.update(extra)
    return body


def station(pm25: int, eid: str = "urn:ngsi-ld:AirQualityObserved:jongno") -> dict[str, Any]:
    return {"id": eid, "type": "AirQualityObserved", "pm25": {"type": "Property", "value": pm25}}


async def test_update_notifies_with_q_and_format(hub_client: Any, receiver: Receiver) -> None:
    _, client = hub_client
    uri = f"http://127.0.0.1:{receiver.port}/notify"
    sub = subscription(
        uri,
        watchedAttributes=["pm25"],
        q="pm25>35",
        notification={
            "endpoint": {
                "uri": uri,
                "accept": "application/json",
                "receiverInfo": [{"key": "X-City", "value": "Seoul"}],
            },
            "format": "keyValues",
        },
    )
    assert (await client.post("/subscriptions", json=sub)).status_code == 201
    await client.post("/entities", json=station(10))  # created, but q does not hold
    await client.patch("/entities/urn:ngsi-ld:AirQualityObserved:jongno/attrs", json={"pm25": 50})
    got = (await receiver.wait_for(1))[0]
    # whoever receives a notification already sees it counted (the ETSI suite checks this at once)
    sent = (await client.get("/subscriptions/urn:ngsi-ld:Subscription:s1")).json()["notification"]
    assert sent["timesSent"] == 1 and "lastNotification" in sent
    assert got["body"]["type"] == "Notification" and got["body"]["subscriptionId"] == "urn:ngsi-ld:Subscription:s1"
    assert got["body"]["data"] == [
        {"id": "urn:ngsi-ld:AirQualityObserved:jongno", "type": "AirQualityObserved", "pm25": 50}
    ]
    assert got["headers"]["X-City"] == "Seoul"
    assert "ngsi-ld-core-context-v1.8.jsonld" in got["headers"]["Link"]
    await asyncio.sleep(0.2)
    assert len(receiver.received) == 1  # the creation with pm25=10 owed nothing
    status = (await client.get("/subscriptions/urn:ngsi-ld:Subscription:s1")).json()["notification"]
    assert status["timesSent"] == 1 and status["status"] == "ok"


async def test_failed_deliveries_are_retried_with_the_same_id(hub_client: Any, receiver: Receiver) -> None:
    hub, client = hub_client
    receiver.fail_first = 2
    await client.post("/subscriptions", json=subscription(f"http://127.0.0.1:{receiver.port}/n"))
    await client.post("/entities", json=station(20))
    got = await receiver.wait_for(1)
    assert got[0]["body"]["data"][0]["pm25"]["value"] == 20
    await asyncio.sleep(0.1)
    status = (await client.get("/subscriptions/urn:ngsi-ld:Subscription:s1")).json()["notification"]
    assert status["timesFailed"] == 2 and status["timesSent"] == 3  # every attempt is a notification sent
    assert status["status"] == "ok" and status["lastSuccess"] >= status["lastFailure"]
    assert await hub.store.outbox_size() == 0


async def test_deletions_and_show_changes(hub_client: Any, receiver: Receiver) -> None:
    _, client = hub_client
    uri = f"http://127.0.0.1:{receiver.port}/n"
    await client.post("/entities", json=station(20))
    sub = subscription(
        uri,
        notificationTrigger=["attributeUpdated", "entityDeleted"],
        notification={"endpoint": {"uri": uri}, "showChanges": True},
    )
    await client.post("/subscriptions", json=sub)
    await client.patch("/entities/urn:ngsi-ld:AirQualityObserved:jongno/attrs", json={"pm25": 30})
    await client.delete("/entities/urn:ngsi-ld:AirQualityObserved:jongno")
    first, second = await receiver.wait_for(2)
    assert first["body"]["data"][0]["pm25"] == {"type": "Property", "value": 30, "previousValue": 20}
    deleted = second["body"]["data"][0]
    assert deleted["deletedAt"].endswith("Z") and deleted["pm25"]["value"] == "urn:ngsi-ld:null"
    assert deleted["pm25"]["previousValue"] == 30


async def test_outbox_survives_a_stopped_worker(
    notify_settings: Settings, store: EntityStore, receiver: Receiver
) -> None:
    """A change committed while no worker runs is delivered once one starts: the outbox is the truth."""
    app = create_app(notify_settings, store)
    hub: Hub = app.state.hub
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://dosi.test/ngsi-ld/v1") as client:
        await client.post("/subscriptions", json=subscription(f"http://127.0.0.1:{receiver.port}/n"))
        for value in range(5):
            await client.post("/entityOperations/upsert", json=[station(value)])
    assert await store.outbox_size() == 5
    worker = DeliveryWorker(notify_settings, store, hub.notifier, hub.guard)
    await worker.start()
    try:
        got = await receiver.wait_for(5)
    finally:
        await worker.stop()
    assert sorted(r["body"]["data"][0]["pm25"]["value"] for r in got) == [0, 1, 2, 3, 4]
    assert len({r["body"]["id"] for r in got}) == 5


async def test_time_interval_notifies_periodically(hub_client: Any, receiver: Receiver) -> None:
    _, client = hub_client
    await client.post("/entities", json=station(7))
    await client.post("/subscriptions", json=subscription(f"http://127.0.0.1:{receiver.port}/n", timeInterval=1))
    got = await receiver.wait_for(2, timeout=6)
    assert [r["body"]["data"][0]["pm25"]["value"] for r in got[:2]] == [7, 7]


@pytest.mark.mqtt
async def test_mqtt_notification(hub_client: Any, mosquitto: int) -> None:
    import paho.mqtt.client as mqtt

    _, client = hub_client
    messages: list[bytes] = []
    subscriber = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    subscriber.on_message = lambda _c, _u, msg: messages.append(msg.payload)
    subscriber.connect("127.0.0.1", mosquitto)
    subscriber.subscribe("city/air", qos=1)
    subscriber.loop_start()
    try:
        uri = f"mqtt://127.0.0.1:{mosquitto}/city/air"
        sub = subscription(
            uri,
            notification={
                "endpoint": {
                    "uri": uri,
                    "notifierInfo": [{"key": "MQTT-QoS", "value": "1"}],
                    "receiverInfo": [{"key": "k", "value": "v"}],
                }
            },
        )
        assert (await client.post("/subscriptions", json=sub)).status_code == 201
        await asyncio.sleep(0.2)
        await client.post("/entities", json=station(42))
        async with asyncio.timeout(10):
            while not messages:
                await asyncio.sleep(0.05)
    finally:
        subscriber.loop_stop()
        subscriber.disconnect()
    message = orjson.loads(messages[0])
    assert message["metadata"]["Content-Type"] == "application/json" and message["metadata"]["k"] == "v"
    assert message["body"]["data"][0]["pm25"]["value"] == 42


@asynccontextmanager
async def two_workers(settings: Settings, store: EntityStore) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    """Clients of two workers on one database: `store` is this worker's, the other opens its own."""
    other = open_store(settings)
    await other.open()
    try:
        this_app, other_app = create_app(settings, store), create_app(settings, other)
        async with (
            httpx.AsyncClient(transport=httpx.ASGITransport(app=this_app), base_url=API) as this,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=other_app), base_url=API) as elsewhere,
        ):
            yield this, elsewhere
    finally:
        await other.close()


async def test_a_subscription_made_by_another_worker_is_honoured_by_the_next_write(
    notify_settings: Settings, store: EntityStore
) -> None:
    """Workers keep each tenant's subscriptions in memory; one made or removed elsewhere counts from the next write."""
    async with two_workers(notify_settings, store) as (this, elsewhere):
        assert (await this.post("/entities", json=station(1))).status_code == 201  # no subscription yet
        made = await elsewhere.post("/subscriptions", json=subscription("http://127.0.0.1:9/n"))
        assert made.status_code == 201
        # a create (PostgreSQL sends it alone, with the subscriptions' version it was made for) and an update
        created = await this.post("/entities", json=station(7, "urn:ngsi-ld:AirQualityObserved:gangnam"))
        assert created.status_code == 201 and await store.outbox_size() == 1
        await this.patch(f"/entities/{station(0)['id']}/attrs", json={"pm25": {"type": "Property", "value": 2}})
        assert await store.outbox_size() == 2
        assert (await elsewhere.delete("/subscriptions/urn:ngsi-ld:Subscription:s1")).status_code == 204
        await this.post("/entities", json=station(8, "urn:ngsi-ld:AirQualityObserved:mapo"))
        await this.patch(f"/entities/{station(0)['id']}/attrs", json={"pm25": {"type": "Property", "value": 3}})
        assert await store.outbox_size() == 2


async def test_a_delete_honours_a_subscription_made_by_another_worker(
    notify_settings: Settings, store: EntityStore
) -> None:
    """A delete writes no entity document: it still learns that the subscriptions changed (it once did not)."""
    async with two_workers(notify_settings, store) as (this, elsewhere):
        assert (await this.post("/entities", json=station(1))).status_code == 201
        deleted = subscription("http://127.0.0.1:9/n", notificationTrigger=["entityDeleted"])
        assert (await elsewhere.post("/subscriptions", json=deleted)).status_code == 201
        assert (await this.delete(f"/entities/{station(1)['id']}")).status_code == 204
        assert await store.outbox_size() == 1
