"""The Korean CAI (통합대기환경지수): band edges, interpolation, the multi-pollutant surcharge, errors.

The expected numbers are written out here, not read from the module, so a wrong breakpoint fails.
"""

from __future__ import annotations

import math

import pytest

from dosi.models import airkorea
from dosi.models.airkorea import GRADE_KO, GRADES, grade, index_grade, integrated_index, sub_index

# (pollutant, [(BP_LO, BP_HI) for good, moderate, unhealthy, veryUnhealthy]) as AirKorea publishes them.
TABLE = {
    "so2": [(0, 0.020), (0.021, 0.050), (0.051, 0.150), (0.151, 1)],
    "co": [(0, 2), (2.01, 9), (9.01, 15), (15.01, 50)],
    "o3": [(0, 0.030), (0.031, 0.090), (0.091, 0.150), (0.151, 0.6)],
    "no2": [(0, 0.030), (0.031, 0.060), (0.061, 0.200), (0.201, 2)],
    "pm10": [(0, 30), (31, 80), (81, 150), (151, 600)],
    "pm25": [(0, 15), (16, 35), (36, 75), (76, 500)],
}
INDEX = [(0, 50), (51, 100), (101, 250), (251, 500)]
EDGES = [(pollutant, band, low, high) for pollutant, bands in TABLE.items() for band, (low, high) in enumerate(bands)]


def test_grades_and_korean_labels():
    assert GRADES == ("good", "moderate", "unhealthy", "veryUnhealthy")
    assert dict(GRADE_KO) == {"good": "좋음", "moderate": "보통", "unhealthy": "나쁨", "veryUnhealthy": "매우나쁨"}
    assert set(airkorea.POLLUTANTS) == set(TABLE)


@pytest.mark.parametrize(("pollutant", "band", "low", "high"), EDGES)
def test_band_edges(pollutant, band, low, high):
    assert grade(pollutant, low) == GRADES[band]
    assert grade(pollutant, high) == GRADES[band]
    assert sub_index(pollutant, low) == INDEX[band][0]
    assert sub_index(pollutant, high) == INDEX[band][1]


@pytest.mark.parametrize(("pollutant", "band", "low", "high"), [e for e in EDGES if e[1] < 3])
def test_just_above_a_band_is_the_next_grade(pollutant, band, low, high):
    step = 1 if pollutant.startswith("pm") else 0.001 if pollutant != "co" else 0.01
    above = round(high + step, 6)
    assert grade(pollutant, above) == GRADES[band + 1]
    assert sub_index(pollutant, above) == INDEX[band + 1][0]


@pytest.mark.parametrize(
    ("pollutant", "concentration", "expected"),
    [
        ("pm10", 55, 75),  # 49/49 * (55 - 31) + 51
        ("pm10", 100, 142),  # 149/69 * 19 + 101 = 142.03
        ("pm10", 15, 25),
        ("pm25", 25, 74),  # 49/19 * 9 + 51 = 74.21
        ("pm25", 50, 154),  # 149/39 * 14 + 101 = 154.49
        ("pm25", 100, 265),  # 249/424 * 24 + 251 = 265.09
        ("o3", 0.06, 75),  # 49/0.059 * 0.029 + 51 = 75.08
        ("o3", 0.12, 174),  # 149/0.059 * 0.029 + 101 = 174.24
        ("no2", 0.1, 143),  # 149/0.139 * 0.039 + 101 = 142.81
        ("co", 5, 72),  # 49/6.99 * 2.99 + 51 = 71.96
        ("so2", 0.01, 25),
        ("so2", 0.1, 175),  # 149/0.099 * 0.049 + 101 = 174.75
    ],
)
def test_interpolation(pollutant, concentration, expected):
    low, high = next((lo, hi) for lo, hi in TABLE[pollutant] if concentration <= hi)
    band = [b for b, (lo, hi) in enumerate(TABLE[pollutant]) if (lo, hi) == (low, high)][0]
    i_low, i_high = INDEX[band]
    exact = (i_high - i_low) / (high - low) * (concentration - low) + i_low
    assert sub_index(pollutant, concentration) == math.floor(exact + 0.5)
    assert sub_index(pollutant, concentration) == expected


def test_rounding_is_half_up():
    # CO "good": 25 points per ppm, so 0.02 ppm is exactly 0.5 and 0.3 ppm exactly 7.5.
    assert sub_index("co", 0.02) == 1
    assert sub_index("co", 0.3) == 8
    assert sub_index("co", 0.01) == 0


def test_between_printed_limits_belongs_to_the_upper_band():
    assert grade("so2", 0.0205) == "moderate"
    assert sub_index("so2", 0.0205) == 51
    assert grade("co", 2.005) == "moderate"
    assert grade("pm10", 30.5) == "moderate"
    assert sub_index("pm10", 30.5) == 51


def test_above_the_top_breakpoint():
    assert grade("pm10", 900) == "veryUnhealthy"
    assert sub_index("pm10", 900) == 500
    assert sub_index("co", 80) == 500


def test_integrated_index_is_the_highest_sub_index():
    assert integrated_index({"pm10": 55, "pm25": 25, "o3": 0.03, "no2": 0.02, "co": 0.5, "so2": 0.003}) == (
        75,
        "moderate",
    )
    assert integrated_index({"pm25": 10}) == (33, "good")  # 50/15 * 10 = 33.3
    # one pollutant "unhealthy": no surcharge
    assert integrated_index({"pm10": 150, "pm25": 30, "o3": 0.05}) == (250, "unhealthy")


def test_two_unhealthy_pollutants_add_50():
    # PM10 150 -> 250, O3 0.1 ppm -> unhealthy (124): 250 + 50 = 300, which is "very unhealthy"
    assert sub_index("o3", 0.1) == 124
    assert integrated_index({"pm10": 150, "o3": 0.1, "no2": 0.02}) == (300, "veryUnhealthy")
    # PM2.5 50 -> 154 and NO2 0.1 -> 143, both unhealthy: 154 + 50
    assert integrated_index({"pm25": 50, "no2": 0.1, "pm10": 40}) == (204, "unhealthy")


def test_three_or_more_unhealthy_pollutants_add_75():
    # PM10 100 -> 142, PM2.5 50 -> 154, NO2 0.1 -> 143: 154 + 75
    assert integrated_index({"pm10": 100, "pm25": 50, "no2": 0.1}) == (229, "unhealthy")
    # four unhealthy pollutants still add 75: SO2 0.1 -> 175 is now the highest, 175 + 75
    assert integrated_index({"pm10": 100, "pm25": 50, "no2": 0.1, "so2": 0.1}) == (250, "unhealthy")


def test_moderate_pollutants_do_not_count_for_the_surcharge():
    # PM2.5 35 is the top of "moderate" (100); only PM10 is unhealthy
    assert integrated_index({"pm10": 81, "pm25": 35, "o3": 0.09}) == (101, "unhealthy")


def test_surcharge_is_capped_at_500():
    assert integrated_index({"pm10": 600, "pm25": 400}) == (500, "veryUnhealthy")


def test_none_values_are_ignored_and_empty_is_none():
    assert integrated_index({}) is None
    assert integrated_index({"pm10": None, "pm25": None}) is None
    assert integrated_index({"pm10": None, "pm25": 16}) == (51, "moderate")


def test_index_grade():
    assert [index_grade(i) for i in (0, 50, 51, 100, 101, 250, 251, 500)] == [
        "good",
        "good",
        "moderate",
        "moderate",
        "unhealthy",
        "unhealthy",
        "veryUnhealthy",
        "veryUnhealthy",
    ]


@pytest.mark.parametrize("call", [grade, sub_index])
def test_errors(call):
    with pytest.raises(ValueError, match="unknown pollutant"):
        call("pm1", 10)
    with pytest.raises(ValueError, match="zero or more"):
        call("pm10", -1)
    with pytest.raises(ValueError, match="zero or more"):
        call("o3", float("nan"))
    with pytest.raises(ValueError, match="unknown pollutant"):
        call("PM10", 10)


def test_integrated_index_errors():
    with pytest.raises(ValueError, match="unknown pollutant"):
        integrated_index({"pm10": 10, "nh3": 0.1})
    with pytest.raises(ValueError, match="zero or more"):
        integrated_index({"pm10": -5})
