"""The sample city's readings at a moment, from the real data shipped in `data/`. Pure: no I/O but the CSVs.

What is real and what is derived (see data/README.md):
- Air quality: each Seoul district station's 2022 monthly mean (derived from Seoul's daily means) times a
  diurnal shape (derived from the Beijing hourly data), with noise. Stations sit at district offices
  (approximate positions). The integrated index and grade follow AirKorea's published CAI bands.
- Bikes: Seoul's real city-wide hourly rentals by season, hour and holiday (UCI Seoul Bike Sharing Demand)
  set how busy the 40 invented docks near real landmarks are.
- Parking and traffic detectors: invented around Gangnam-daero, following the same daily rhythm.
"""

from __future__ import annotations

import csv
import io
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from importlib import resources
from typing import Any

from dosi.models.airkorea import integrated_index

KST = timezone(timedelta(hours=9))
POLLUTANTS = ("pm10", "pm25", "no2", "o3", "co", "so2")
SEASONS = {12: "winter", 1: "winter", 2: "winter", 3: "spring", 4: "spring", 5: "spring", 6: "summer",
           7: "summer", 8: "summer", 9: "autumn", 10: "autumn", 11: "autumn"}  # fmt: skip
GANGNAM = (37.4979, 127.0276)  # Gangnam station, on Gangnam-daero
GRADE_NUMBER = {"good": "1", "moderate": "2", "unhealthy": "3", "veryUnhealthy": "4"}


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("dosi.demo").joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def _noise(*key: Any) -> random.Random:
    """Repeatable noise: the same station and hour always read the same."""
    return random.Random("|".join(map(str, key)))


@dataclass(frozen=True)
class Spot:
    id: str
    site: str
    lat: float
    lon: float


@dataclass(frozen=True)
class Detector:
    id: str
    lanes: int
    lat: float
    lon: float


class City:
    def __init__(self) -> None:
        self.stations = {r["station"]: r for r in _rows("seoul_stations.csv")}
        self.monthly = {(r["station"], int(r["month"])): r for r in _rows("seoul_air_monthly.csv")}
        self.shape = {int(r["hour"]): r for r in _rows("air_hourly_shape.csv")}
        hourly = _rows("seoul_bike_hourly.csv")
        self.bikes = {(r["season"], int(r["hour"]), r["holiday"]): float(r["rented"]) for r in hourly}
        self.busiest = max(self.bikes.values())
        self.docks = _rows("seoul_bike_stations.csv")
        rng = random.Random(2026)
        self.spots = [
            Spot(f"gangnam-{site}-{n:02d}", site, GANGNAM[0] + rng.uniform(-0.004, 0.004),
                 GANGNAM[1] + rng.uniform(-0.004, 0.004))
            for site in ("A", "B", "C") for n in range(20)
        ]  # fmt: skip
        self.detectors = [
            Detector(f"GN-{n:02d}", 2 + n % 3, GANGNAM[0] - 0.02 + n * 0.002, GANGNAM[1] + 0.001 * (n % 2))
            for n in range(20)
        ]

    # -- air quality (AirKorea's getCtprvnRltmMesureDnsty items) ------------------------------------
    def air_items(self, at: datetime) -> list[dict[str, Any]]:
        local = at.astimezone(KST).replace(minute=0, second=0, microsecond=0)
        items = []
        for station in self.stations:
            mean = self.monthly.get((station, local.month))
            if mean is None:
                continue
            rng = _noise("air", station, local.isoformat())
            digits = {"pm10": 0, "pm25": 0, "no2": 3, "o3": 3, "co": 1, "so2": 3}
            values = {
                p: round(max(0.0, float(mean[p]) * float(self.shape[local.hour][p]) * rng.lognormvariate(0, 0.15)),
                         digits[p])
                for p in POLLUTANTS
                if mean[p]
            }  # fmt: skip
            index = integrated_index(values)  # from the values as reported, as a reader would recompute it
            item = {
                "stationName": station,
                "sidoName": "서울",
                "dataTime": local.strftime("%Y-%m-%d %H:%M"),
                "khaiValue": str(index[0]) if index else "-",
                "khaiGrade": GRADE_NUMBER[index[1]] if index else None,
            }
            for p in POLLUTANTS:
                item[f"{p}Value"] = f"{values[p]:.{digits[p]}f}" if p in values else "-"
            items.append(item)
        return items

    # -- bikes (Seoul's bikeList rows) --------------------------------------------------------------
    def busy(self, at: datetime) -> float:
        """0..1: how busy the city's bikes are this hour (real Seoul rentals; weekends as holidays)."""
        local = at.astimezone(KST)
        holiday = "yes" if local.weekday() >= 5 else "no"
        rented = self.bikes.get((SEASONS[local.month], local.hour, holiday))
        if rented is None:
            rented = self.bikes.get((SEASONS[local.month], local.hour, "no"), 0.0)
        return rented / self.busiest

    def bike_rows(self, at: datetime) -> list[dict[str, Any]]:
        busy = self.busy(at)
        slot = int(at.timestamp() // 300)  # docks change every five minutes
        rows = []
        for dock in self.docks:
            capacity = int(dock["capacity"])
            rng = _noise("bike", dock["station_id"], slot)
            share = min(1.0, max(0.0, 0.75 - 0.6 * busy + rng.gauss(0, 0.12)))
            parked = round(capacity * share)
            rows.append({
                "rackTotCnt": str(capacity),
                "stationName": f"{dock['station_id'][3:]}. {dock['name']}",
                "parkingBikeTotCnt": str(parked),
                "shared": str(round(100 * parked / capacity)),
                "stationLatitude": dock["lat"],
                "stationLongitude": dock["lon"],
                "stationId": dock["station_id"],
            })  # fmt: skip
        return rows

    # -- parking sensors and traffic detectors ------------------------------------------------------
    def parking(self, at: datetime) -> list[tuple[Spot, bool]]:
        """Each spot's state: occupied with a daytime-heavy probability."""
        local = at.astimezone(KST)
        daytime = 0.25 + 0.65 * math.exp(-(((local.hour + local.minute / 60) - 14) ** 2) / 18)
        slot = int(at.timestamp() // 120)
        return [(spot, _noise("park", spot.id, slot).random() < daytime) for spot in self.spots]

    def traffic(self, at: datetime) -> list[dict[str, Any]]:
        busy = self.busy(at)
        slot = int(at.timestamp() // 300)
        readings = []
        for detector in self.detectors:
            for lane in range(1, detector.lanes + 1):
                rng = _noise("traffic", detector.id, lane, slot)
                count = max(0, round(20 + 140 * busy + rng.gauss(0, 8)))
                speed = max(5.0, 62 - 45 * busy + rng.gauss(0, 4))
                readings.append({
                    "detector": detector.id, "lane": lane, "time": at.isoformat(), "count": count,
                    "speed": round(speed, 1), "speed_unit": "km/h", "occupancy": round(min(1.0, count / 220), 3),
                    "congested": speed < 20, "lat": detector.lat, "lon": detector.lon,
                })  # fmt: skip
        return readings


class SimClock:
    """Simulated time: starts `behind` in the past, runs `speed` times faster until it catches up with now,
    then keeps to the wall clock, so the city has a past to query within minutes and never a future."""

    def __init__(self, speed: float, behind: timedelta, wall: Any = None):
        self.wall = wall or (lambda: datetime.now(UTC))
        self.speed = speed
        self.began = self.wall()
        self.start = self.began - behind

    def now(self) -> datetime:
        real = self.wall()
        simulated = self.start + (real - self.began) * self.speed
        return min(simulated, real)
