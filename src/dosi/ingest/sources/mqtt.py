"""MQTT subscriber: topic patterns, JSON payloads, QoS 1, acknowledged only once stored.

The session is persistent (a fixed client id, clean_session off), so the broker keeps QoS 1 messages
while the hub is down and sends them again after a restart: at least once into the hub, and the
ingest writer drops what it already holds.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from typing import Any
from urllib.parse import urlsplit

from dosi.ingest.config import SourceConfig
from dosi.ingest.source import Deliver, Message, Share

INSTALL_HINT = "the MQTT source needs the extra: pip install 'dosi[mqtt]' / MQTT 수집에는 dosi[mqtt] 설치가 필요합니다"
BATCH = 500  # messages handed over at once, at most
LINGER = 0.05  # seconds a batch waits to fill


class Inbox:
    """Hands messages from paho's network thread to the event loop, waking the loop once per burst instead of
    once per message (each wake-up is a write to the loop's self-pipe)."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.items: deque[Any] = deque()
        self.ready = asyncio.Event()
        self._lock = threading.Lock()
        self._signalled = False

    def put(self, item: Any) -> None:
        """From any thread."""
        self.items.append(item)
        with self._lock:
            if self._signalled:
                return
            self._signalled = True
        self.loop.call_soon_threadsafe(self.ready.set)

    async def take(self, most: int, linger: float) -> list[Any]:
        """The next batch: at least one item, up to `most`, waiting `linger` for more when there are few."""
        await self.ready.wait()
        if len(self.items) < most:
            await asyncio.sleep(linger)
        with self._lock:
            self._signalled = False
            self.ready.clear()
        batch = [self.items.popleft() for _ in range(min(most, len(self.items)))]
        if self.items:
            self.ready.set()
        return batch


class MqttSource:
    def __init__(self, config: SourceConfig, share: Share | None = None):
        """`share`: this process's slot among the processes sharing the source (one persistent session per slot,
        and the topics subscribed as an MQTT shared subscription, so the broker deals each message to one slot)."""
        self.name = config.name
        self.url = str(config.option("url", "mqtt://127.0.0.1:1883"))
        self.topics = [str(t) for t in config.option("topics", [])]
        self.qos = int(config.option("qos", 1))
        if self.qos != 1:  # QoS 0 may lose messages; with QoS 2 paho confirms receipt before the hub has stored it
            raise ValueError(f"source {self.name}: qos must be 1 (at least once, acknowledged after storing)")
        self.client_id = str(config.option("client_id", f"dosi-ingest-{config.name}"))
        if share is not None:
            self.client_id += f"-{share.slot}"
        self.username = config.option("username")
        self.password = config.option("password")
        if not self.topics:
            raise ValueError(f"source {self.name}: [mqtt] topics is empty")
        self.filters = self.topics if share is None else [f"$share/dosi-{config.name}/{t}" for t in self.topics]
        self.subscribed = asyncio.Event()  # set once the broker confirmed the subscriptions

    async def run(self, deliver: Deliver) -> None:
        try:
            import paho.mqtt.client as mqtt
        except ImportError:
            raise RuntimeError(INSTALL_HINT) from None
        loop = asyncio.get_running_loop()
        inbox = Inbox(loop)
        parts = urlsplit(self.url)
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
        if self.username:
            client.username_pw_set(str(self.username), None if self.password is None else str(self.password))
        if parts.scheme == "mqtts":
            client.tls_set()

        def on_connect(c: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
            if reason.is_failure:
                inbox.put(ConnectionError(f"MQTT connect refused: {reason}"))
                return
            c.subscribe([(topic, self.qos) for topic in self.filters])

        def on_disconnect(c: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
            inbox.put(ConnectionError(f"MQTT connection lost: {reason}"))

        def on_subscribe(c: Any, userdata: Any, mid: Any, reasons: Any, properties: Any) -> None:
            refused = [str(r) for r in reasons if r.is_failure]
            if refused:  # e.g. a topic the broker's ACL forbids: a failing source, not a quiet one
                inbox.put(ConnectionError(f"MQTT subscription refused: {refused}"))
                return
            loop.call_soon_threadsafe(self.subscribed.set)

        def on_message(c: Any, userdata: Any, msg: Any) -> None:
            inbox.put(msg)

        client.on_connect = on_connect
        client.on_disconnect = on_disconnect
        client.on_message = on_message
        client.on_subscribe = on_subscribe
        port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        await asyncio.to_thread(client.connect, parts.hostname or "127.0.0.1", port, 30)
        client.loop_start()
        try:
            while True:
                batch = await inbox.take(BATCH, LINGER)
                failure = next((item for item in batch if isinstance(item, Exception)), None)
                received = [item for item in batch if not isinstance(item, Exception)]
                if received:
                    await deliver([Message(m.payload, {"topic": m.topic.split("/")}) for m in received])
                    for m in received:  # PUBACK only now: every record is stored or recorded as rejected
                        client.ack(m.mid, m.qos)
                if failure is not None:
                    raise failure
        finally:
            client.disconnect()
            await asyncio.to_thread(client.loop_stop)  # the network thread may be waiting to reconnect
