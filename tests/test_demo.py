"""`dosi demo` starts a living city: every feed arrives through its real adapter, and history accumulates."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from dosi.demo.city import City, SimClock
from dosi.models.airkorea import integrated_index
from tests.conftest import _free_port

TYPES = ("AirQualityObserved", "BikeHireDockingStation", "ParkingSpot", "TrafficFlowObserved")


def test_the_clock_catches_up_and_never_runs_ahead() -> None:
    wall = [datetime(2026, 11, 22, 12, tzinfo=UTC)]
    clock = SimClock(600, timedelta(days=1), wall=lambda: wall[0])
    assert clock.now() == wall[0] - timedelta(days=1)
    wall[0] += timedelta(seconds=60)  # a minute later: ten simulated hours have passed
    assert clock.now() == datetime(2026, 11, 21, 22, 0, tzinfo=UTC)
    wall[0] += timedelta(hours=1)
    assert clock.now() == wall[0]


def test_air_items_follow_the_published_index() -> None:
    items = City().air_items(datetime(2026, 1, 15, 8, 30, tzinfo=UTC))
    assert len(items) == 25 and items[0]["dataTime"] == "2026-01-15 17:00"  # KST
    for item in items:
        values = {p: float(item[f"{p}Value"]) for p in ("pm10", "pm25", "no2", "o3", "co", "so2")}
        index = integrated_index(values)
        assert index is not None and str(index[0]) == item["khaiValue"]


@pytest.mark.slow
def test_demo_streams_a_city(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "DOSI_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}"}
    env.pop("DOSI_OUTBOUND_ALLOW", None)
    process = subprocess.Popen(
        [sys.executable, "-c", "from dosi.cli import main; main()", "demo", "--port", str(port), "--speed", "3600",
         "--portal-port", str(_free_port())],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        counts: dict[str, int] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(counts.get(t, 0) >= 2 for t in TYPES):
            time.sleep(1)
            for entity_type in TYPES:
                link = (f'<{base}/dosi/v1/models/{entity_type}/context>; rel="http://www.w3.org/ns/json-ld#context";'
                        ' type="application/ld+json"')  # fmt: skip
                try:
                    answer = httpx.get(f"{base}/ngsi-ld/v1/entities", params={"type": entity_type, "count": "true",
                                       "limit": "1"}, headers={"Link": link}, timeout=5)  # fmt: skip
                except httpx.HTTPError:
                    continue
                counts[entity_type] = int(answer.headers.get("NGSILD-Results-Count", 0))
        assert all(counts.get(t, 0) >= 2 for t in TYPES), counts
        status = httpx.get(f"{base}/dosi/v1/ingest/status", timeout=5).json()
        assert {s["name"] for s in status} >= {"airkorea-seoul", "seoul-bike", "traffic-detectors"}
        assert all(s["rejected"] == 0 for s in status), status
    finally:
        process.send_signal(signal.SIGINT)
        try:
            output, _ = process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
    assert "Dosi demo" in output
