"""Korean air-quality grades and the Comprehensive Air-quality Index (CAI, 통합대기환경지수).

The CAI is the index the Ministry of Environment and Korea Environment Corporation publish on AirKorea
(에어코리아, airkorea.or.kr, "통합대기환경지수(CAI) 안내" and its CAI calculator). Each pollutant's
concentration is placed in one of four bands and turned into a sub-index by linear interpolation inside
the band::

    I_p = (I_HI - I_LO) / (BP_HI - BP_LO) * (C_p - BP_LO) + I_LO

========================  ============  ===============  ===============  ===============
pollutant (averaging)     good 0-50     moderate 51-100  unhealthy        very unhealthy
                                                         101-250          251-500
========================  ============  ===============  ===============  ===============
SO2 ppm (1 h)             0-0.020       0.021-0.050      0.051-0.150      0.151-1
CO ppm (1 h)              0-2           2.01-9           9.01-15          15.01-50
O3 ppm (1 h)              0-0.030       0.031-0.090      0.091-0.150      0.151-0.6
NO2 ppm (1 h)             0-0.030       0.031-0.060      0.061-0.200      0.201-2
PM10 µg/m³ (24 h)         0-30          31-80            81-150           151-600
PM2.5 µg/m³ (24 h)        0-15          16-35            36-75            76-500
========================  ============  ===============  ===============  ===============

The PM2.5 bands are those in force since 27 March 2018, when the PM2.5 standard was tightened (the
earlier bands were 0-15, 16-50, 51-100, 101-500). The CAI is the highest sub-index; when two pollutants
are in the "unhealthy" band or worse, 50 points are added to it, and 75 when three or more are.

Sources: the CAI table and formula as AirKorea publishes them (통합대기환경지수 안내, airkorea.or.kr), read
here from the copy on Jeju Special Self-Governing Province's air-quality site
(http://air.jeju.go.kr/contents/atmospheric/cai/summary.htm); AirKorea's CAI calculator
(https://www.airkorea.or.kr/web/caiCalculator?pMENU_NO=147) for the 24-hour PM means; the PM2.5 band limits
as reported with the 2018 revision (좋음 ~15, 보통 16~35, 나쁨 36~75, 매우나쁨 76~); and the Seoul air-quality
site's description of the surcharge (가산점: the highest-scoring pollutant is shown as the 영향 오염물질
and its score is raised by 50 points when two pollutants qualify, by 75 when three do). That description
dates from the six-grade CAI, where the threshold was 민감군영향 (101); the four-grade CAI keeps 101 as the
lower limit of 나쁨, so the rule reads the same.

Choices this module makes where the published table is silent:

- A concentration that falls between two bands' printed limits (for example SO2 0.0205 ppm, finer than
  AirKorea's reporting precision) belongs to the upper band and scores that band's lowest index.
- A concentration above the top breakpoint scores 500, and the raised CAI is capped at 500.
- Sub-indices are rounded half up to an integer (반올림).
- PM10 and PM2.5 are meant as 24-hour (moving) means and the gases as 1-hour values; this module does
  not average, it takes the value it is given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

GRADES: tuple[str, ...] = ("good", "moderate", "unhealthy", "veryUnhealthy")
"""The four grades, best first: 좋음, 보통, 나쁨, 매우나쁨."""

GRADE_KO: Final[Mapping[str, str]] = MappingProxyType(
    {"good": "좋음", "moderate": "보통", "unhealthy": "나쁨", "veryUnhealthy": "매우나쁨"}
)

INDEX_BANDS: tuple[tuple[int, int], ...] = ((0, 50), (51, 100), (101, 250), (251, 500))
"""Index range (I_LO, I_HI) of each grade, in the order of GRADES."""

POLLUTANTS: tuple[str, ...] = ("pm10", "pm25", "o3", "no2", "co", "so2")

UNITS: Final[Mapping[str, str]] = MappingProxyType(
    {"pm10": "µg/m³", "pm25": "µg/m³", "o3": "ppm", "no2": "ppm", "co": "ppm", "so2": "ppm"}
)

AVERAGING: Final[Mapping[str, str]] = MappingProxyType(
    {"pm10": "24h", "pm25": "24h", "o3": "1h", "no2": "1h", "co": "1h", "so2": "1h"}
)

BREAKPOINTS: Final[Mapping[str, tuple[tuple[float, float], ...]]] = MappingProxyType(
    {
        "so2": ((0.0, 0.020), (0.021, 0.050), (0.051, 0.150), (0.151, 1.0)),
        "co": ((0.0, 2.0), (2.01, 9.0), (9.01, 15.0), (15.01, 50.0)),
        "o3": ((0.0, 0.030), (0.031, 0.090), (0.091, 0.150), (0.151, 0.6)),
        "no2": ((0.0, 0.030), (0.031, 0.060), (0.061, 0.200), (0.201, 2.0)),
        "pm10": ((0.0, 30.0), (31.0, 80.0), (81.0, 150.0), (151.0, 600.0)),
        "pm25": ((0.0, 15.0), (16.0, 35.0), (36.0, 75.0), (76.0, 500.0)),
    }
)
"""Concentration range (BP_LO, BP_HI) of each grade, per pollutant, in the order of GRADES."""

UNHEALTHY_SURCHARGE: tuple[tuple[int, int], ...] = ((3, 75), (2, 50))
"""(pollutants at "unhealthy" or worse, points added to the CAI), checked in this order."""

MAX_INDEX: Final = 500


def _band(pollutant: str, concentration: float) -> int:
    """The position in GRADES of a pollutant's concentration; checks both arguments."""
    bands = BREAKPOINTS.get(pollutant)
    if bands is None:
        raise ValueError(f"unknown pollutant {pollutant!r}; expected one of {', '.join(POLLUTANTS)}")
    if isinstance(concentration, bool) or not isinstance(concentration, int | float):
        raise ValueError(f"{pollutant} concentration must be a number, got {concentration!r}")
    if math.isnan(concentration) or concentration < 0:
        raise ValueError(f"{pollutant} concentration must be zero or more, got {concentration!r}")
    for position, (_, high) in enumerate(bands):
        if concentration <= high:
            return position
    return len(bands) - 1


def _round_half_up(value: float) -> int:
    # The small margin keeps values such as 74.5 that float arithmetic lands just under from rounding down.
    return math.floor(value + 0.5 + 1e-9)


def grade(pollutant: str, concentration: float) -> str:
    """The grade ("good" ... "veryUnhealthy") of one pollutant's concentration (PM in µg/m³, gases in ppm)."""
    return GRADES[_band(pollutant, concentration)]


def sub_index(pollutant: str, concentration: float) -> int:
    """The pollutant's CAI sub-index (0-500): linear interpolation inside its band, rounded half up."""
    position = _band(pollutant, concentration)
    low, high = BREAKPOINTS[pollutant][position]
    index_low, index_high = INDEX_BANDS[position]
    if concentration >= high:
        return index_high
    concentration = max(concentration, low)
    value = (index_high - index_low) / (high - low) * (concentration - low) + index_low
    return _round_half_up(value)


def index_grade(index: int) -> str:
    """The grade of a CAI value."""
    if index < 0:
        raise ValueError(f"an index is zero or more, got {index}")
    for position, (_, index_high) in enumerate(INDEX_BANDS):
        if index <= index_high:
            return GRADES[position]
    return GRADES[-1]


def integrated_index(concentrations: Mapping[str, float | None]) -> tuple[int, str] | None:
    """The CAI and its grade from the pollutants given (None values are skipped); None when none is given.

    The CAI is the highest sub-index, plus 50 when two pollutants are "unhealthy" or worse and plus 75 when
    three or more are, capped at 500.
    """
    positions: list[int] = []
    indices: list[int] = []
    for pollutant, concentration in concentrations.items():
        if concentration is None:
            continue
        positions.append(_band(pollutant, concentration))
        indices.append(sub_index(pollutant, concentration))
    if not indices:
        return None
    index = max(indices)
    unhealthy = sum(1 for position in positions if position >= GRADES.index("unhealthy"))
    for count, points in UNHEALTHY_SURCHARGE:
        if unhealthy >= count:
            index += points
            break
    index = min(index, MAX_INDEX)
    return index, index_grade(index)
