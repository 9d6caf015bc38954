"""Realistic city entities for the scenarios: four types spread over Seoul, values following daily profiles.

Deterministic for a given seed, so that two runs load the same city.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

# Seoul's bounding box (lon, lat); districts are denser near the centre
WEST, EAST, SOUTH, NORTH = 126.76, 127.18, 37.43, 37.70
CENTRE = (126.978, 37.566)
TYPES = ("ParkingSpot", "AirQualityObserved", "TrafficFlowObserved", "BikeHireDockingStation")
EPOCH = datetime(2026, 11, 1, tzinfo=UTC)


def daily(hour: float, peak: float, base: float, amplitude: float) -> float:
    """A value with one daily peak at `peak` o'clock."""
    return base + amplitude * math.cos((hour - peak) / 24 * 2 * math.pi)


def point(rng: random.Random) -> list[float]:
    lon = min(EAST, max(WEST, rng.gauss(CENTRE[0], 0.08)))
    lat = min(NORTH, max(SOUTH, rng.gauss(CENTRE[1], 0.05)))
    return [round(lon, 6), round(lat, 6)]


def entity_id(kind: str, number: int) -> str:
    return f"urn:ngsi-ld:{kind}:seoul-{number:07d}"


def kind_of(number: int) -> str:
    return TYPES[number % len(TYPES)]


def entity(number: int, rng: random.Random, at: datetime = EPOCH) -> dict[str, Any]:
    kind = kind_of(number)
    hour = at.hour + at.minute / 60
    observed = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    body: dict[str, Any] = {
        "id": entity_id(kind, number),
        "type": kind,
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": point(rng)}},
    }

    def prop(value: Any, unit: str | None = None) -> dict[str, Any]:
        out = {"type": "Property", "value": value, "observedAt": observed}
        if unit:
            out["unitCode"] = unit
        return out

    if kind == "ParkingSpot":
        body["status"] = prop(rng.choice(["free", "occupied", "occupied", "closed"]))
        body["category"] = prop(["onStreet"])
    elif kind == "AirQualityObserved":
        body["pm10"] = prop(round(max(0.0, daily(hour, 8, 40, 20) + rng.gauss(0, 8)), 1), "GQ")
        body["pm25"] = prop(round(max(0.0, daily(hour, 8, 22, 12) + rng.gauss(0, 5)), 1), "GQ")
        body["no2"] = prop(round(max(0.0, daily(hour, 18, 0.03, 0.015) + rng.gauss(0, 0.005)), 4), "59")
    elif kind == "TrafficFlowObserved":
        body["intensity"] = prop(int(max(0, daily(hour, 18, 600, 450) + rng.gauss(0, 60))))
        body["averageVehicleSpeed"] = prop(round(max(3.0, daily(hour, 4, 35, 15) + rng.gauss(0, 4)), 1), "KMH")
    else:
        capacity = rng.choice([10, 15, 20, 25])
        body["availableBikeNumber"] = prop(rng.randint(0, capacity))
        body["totalSlotNumber"] = prop(capacity)
    return body


def city(count: int, seed: int = 2026) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for number in range(count):
        yield entity(number, rng)


def batches(count: int, size: int, seed: int = 2026) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for item in city(count, seed):
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def readings(count: int, step_seconds: int = 60, seed: int = 7) -> Iterator[dict[str, Any]]:
    """`count` instances of one sensor, one every `step_seconds`, with a daily profile and noise."""
    rng = random.Random(seed)
    for i in range(count):
        at = EPOCH - timedelta(seconds=step_seconds * (count - i))
        hour = at.hour + at.minute / 60
        yield {
            "type": "Property",
            "value": round(max(0.0, daily(hour, 8, 22, 12) + rng.gauss(0, 5)), 1),
            "observedAt": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "unitCode": "GQ",
        }
