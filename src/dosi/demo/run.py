"""`dosi demo`: the hub on SQLite with a sample Seoul district streaming in through the real adapters.

One process runs the hub, a stand-in for the open-data portals (polled by the AirKorea and Seoul bike
sources), and two device feeds: parking sensors over MQTT (when a broker answers on 127.0.0.1:1883, else
over HTTP push) and traffic detectors over HTTP push. Simulated time starts a day ago and runs `speed`
times faster until it reaches now, so history is there to query within minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from datetime import timedelta
from importlib import resources
from typing import Any

import httpx
import uvicorn

from dosi.api.app import create_app
from dosi.api.hub import open_store
from dosi.demo.city import City, SimClock
from dosi.demo.portal import AIR_PATH, portal_app
from dosi.ngsild.model import now_iso
from dosi.settings import Settings

log = logging.getLogger("dosi.demo")


def _source(name: str) -> str:
    return resources.files("dosi.demo").joinpath("sources", f"{name}.toml").read_text(encoding="utf-8")


def _set(text: str, key: str, value: Any) -> str:
    """Replaces one `key = ...` line of a TOML source (the shipped configs are the demo's configs)."""
    lines = [f"{key} = {json.dumps(value, ensure_ascii=False)}" if line.startswith(f"{key} =") else line
             for line in text.splitlines()]  # fmt: skip
    return "\n".join(lines) + "\n"


def demo_sources(portal: str, speed: float, mqtt_port: int | None) -> dict[str, str]:
    """The shipped source configs, pointed at the local portal and paced to the simulated clock."""
    air = _set(_source("airkorea"), "url", portal + AIR_PATH)
    air = _set(air, "interval", max(2.0, 3600 / speed)).replace("${env:DATA_GO_KR_KEY}", "demo")
    bike = _set(_source("seoul-bike"), "url", portal + "/demo/json/bikeList/{start}/{end}/")
    bike = _set(bike, "interval", max(2.0, 300 / speed))
    parking = _source("parking")
    if mqtt_port is not None:
        parking = _set(parking, "url", f"mqtt://127.0.0.1:{mqtt_port}")
        parking = _set(parking, "client_id", "dosi-demo-parking")
    else:  # no broker: the same sensors push over HTTP, naming site and spot in the body
        parking = parking.replace('kind = "mqtt"', 'kind = "http"').replace("{$topic.2}:{$topic.3}", "{site}:{spot}")
        parking = parking.replace("{$topic.2}", "{site}")
    return {
        "airkorea-seoul": air,
        "seoul-bike": bike,
        "parking-sensors": parking,
        "traffic-detectors": _source("traffic"),
    }


def broker_port() -> int | None:
    """1883 when a broker answers there and the MQTT extra is installed."""
    try:
        import paho.mqtt.client  # noqa: F401
    except ImportError:
        return None
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", 1883), timeout=0.3):
        return 1883
    return None


class Feeds:
    """The device side: parking sensors and traffic detectors, reporting as the simulated clock moves."""

    def __init__(self, city: City, clock: SimClock, hub_url: str, mqtt_port: int | None):
        self.city = city
        self.clock = clock
        self.hub_url = hub_url
        self.mqtt_port = mqtt_port
        self.parked: dict[str, bool] = {}
        self.sent = 0

    async def run(self, speed: float) -> None:
        publisher = self._publisher()
        async with httpx.AsyncClient(base_url=self.hub_url, timeout=30) as client:
            while True:
                now = self.clock.now()
                with contextlib.suppress(httpx.HTTPError):
                    await self._parking(client, publisher, now)
                    await client.post("/dosi/v1/ingest/traffic-detectors", json=self.city.traffic(now))
                await asyncio.sleep(max(0.5, 120 / speed))

    def _publisher(self) -> Any:
        if self.mqtt_port is None:
            return None
        import paho.mqtt.client as mqtt

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="dosi-demo-sensors")
        client.connect("127.0.0.1", self.mqtt_port)
        client.loop_start()
        return client

    async def _parking(self, client: httpx.AsyncClient, publisher: Any, now: Any) -> None:
        changed = [(spot, taken) for spot, taken in self.city.parking(now) if self.parked.get(spot.id) != taken]
        millis = int(now.timestamp() * 1000)
        bodies = [{"site": s.site, "spot": s.id, "occupied": taken, "ts": millis, "lat": s.lat, "lon": s.lon}
                  for s, taken in changed]  # fmt: skip
        if publisher is not None:
            for body in bodies:
                publisher.publish(f"city/parking/{body['site']}/{body['spot']}", json.dumps(body), qos=1)
        elif bodies:
            await client.post("/dosi/v1/ingest/parking-sensors", json=bodies)
        self.parked.update({spot.id: taken for spot, taken in changed})
        self.sent += len(bodies)


async def prepare(settings: Settings, sources: dict[str, str]) -> None:
    """Stores the demo's sources (the hub runs every stored source)."""
    store = open_store(settings)
    await store.open()
    try:
        for name, text in sources.items():
            await store.put_source(name, text, now_iso())
    finally:
        await store.close()


async def run_demo(settings: Settings, speed: float, portal_port: int, echo: Any) -> None:
    city, clock = City(), SimClock(speed, timedelta(days=1))
    mqtt_port = broker_port()
    portal = f"http://127.0.0.1:{portal_port}"
    await prepare(settings, demo_sources(portal, speed, mqtt_port))
    hub_url = f"http://{settings.host}:{settings.port}"
    servers = [
        uvicorn.Server(
            uvicorn.Config(portal_app(city, clock), host="127.0.0.1", port=portal_port, log_level="warning")
        ),
        uvicorn.Server(
            uvicorn.Config(
                create_app(settings), host=settings.host, port=settings.port, log_level="warning", access_log=False
            )
        ),  # fmt: skip
    ]
    echo(
        f"Dosi demo: a Seoul district streaming in (x{speed:g} until it catches up with now)\n"
        f"  parking sensors over {'MQTT (127.0.0.1:1883)' if mqtt_port else 'HTTP push (no MQTT broker found)'}, "
        f"traffic detectors over HTTP push, air quality and bikes polled from the portal stand-in at {portal}\n"
        f"  try: curl '{hub_url}/ngsi-ld/v1/entities?type=AirQualityObserved&options=keyValues&limit=3' "
        f"-H 'Link: <{hub_url}/dosi/v1/models/AirQualityObserved/context>; "
        'rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"\'\n'
        "  more in README (Five-minute tour) / 사용법은 README를 참고하세요"
    )
    feeds = Feeds(city, clock, hub_url, mqtt_port)
    serving = [asyncio.create_task(server.serve()) for server in servers]
    await asyncio.sleep(1.0)
    feeding = asyncio.create_task(feeds.run(speed))
    await asyncio.wait([*serving, feeding], return_when=asyncio.FIRST_COMPLETED)
    for server in servers:  # a signal stops one server: stop the others the same orderly way
        server.should_exit = True
    feeding.cancel()
    results = await asyncio.gather(*serving, feeding, return_exceptions=True)
    for result in results:
        if isinstance(result, Exception):
            raise result
