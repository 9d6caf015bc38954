#!/usr/bin/env python3
"""Derive the small demo data files shipped in ``src/dosi/demo/data/``.

Usage::

    python tools/derive_demo_data.py /work/shared/datasets [--out DIR]

Inputs (under the datasets root given as the first argument):

* ``seoul_daily_air_quality/2022.csv``: Seoul daily means per station, CP949.
  Its licence is unconfirmed, so only aggregated statistics (monthly means per
  district station) leave this script, never rows.
* ``beijing_multisite_air_quality/PRSA_Data_*.csv``: hourly pollutants at 12
  Beijing stations, CC BY 4.0. Used only for a unit-free diurnal shape.
* ``seoul_bike_sharing/SeoulBikeData.csv``: hourly city-wide bike rentals,
  CC BY 4.0. Reduced to a mean per (season, hour, holiday).

Outputs (overwritten on every run; ``README.md`` in the same folder is written by
hand and left alone):

* ``seoul_air_monthly.csv``
* ``air_hourly_shape.csv``
* ``seoul_bike_hourly.csv``
* ``seoul_stations.csv`` (district office positions, approximate)
* ``seoul_bike_stations.csv`` (invented docking stations near real landmarks)

Standard library only. The output is deterministic: the same inputs give
byte-identical files.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

POLLUTANTS: tuple[str, ...] = ("pm10", "pm25", "no2", "o3", "co", "so2")

# Decimal places per pollutant in the monthly file. PM in ug/m3, gases in ppm;
# the source gives NO2/O3/SO2 to 3 places and CO to 1, so one more is enough.
MONTHLY_DECIMALS: dict[str, int] = {"pm10": 1, "pm25": 1, "no2": 4, "o3": 4, "co": 3, "so2": 4}
SHAPE_DECIMALS = 4
BIKE_DECIMALS = 1

# Column headers of the Seoul daily file (CP949), matched by prefix because the
# unit suffix in parentheses uses characters that vary between exports.
SEOUL_DATE = "측정일시"
SEOUL_STATION = "측정소명"
SEOUL_PREFIXES: dict[str, str] = {
    "no2": "이산화질소농도",
    "o3": "오존농도",
    "co": "일산화탄소농도",
    "so2": "아황산가스농도",
    "pm10": "미세먼지농도",
    "pm25": "초미세먼지농도",
}

# Beijing column names per pollutant.
BEIJING_COLUMNS: dict[str, str] = {
    "pm10": "PM10",
    "pm25": "PM2.5",
    "no2": "NO2",
    "o3": "O3",
    "co": "CO",
    "so2": "SO2",
}

SEASONS: tuple[str, ...] = ("winter", "spring", "summer", "autumn")


@dataclass(frozen=True)
class District:
    """One of Seoul's 25 autonomous districts and its office (구청) position."""

    name: str
    name_en: str
    lat: float
    lon: float


# District office positions from public knowledge, rounded to 4 places (about
# 10 m). They stand in for the urban air-quality monitor of each district, which
# sits elsewhere in the district, so every row is marked approximate.
DISTRICTS: tuple[District, ...] = (
    District("강남구", "Gangnam-gu", 37.5172, 127.0473),
    District("강동구", "Gangdong-gu", 37.5301, 127.1238),
    District("강북구", "Gangbuk-gu", 37.6396, 127.0257),
    District("강서구", "Gangseo-gu", 37.5509, 126.8495),
    District("관악구", "Gwanak-gu", 37.4784, 126.9516),
    District("광진구", "Gwangjin-gu", 37.5385, 127.0824),
    District("구로구", "Guro-gu", 37.4955, 126.8875),
    District("금천구", "Geumcheon-gu", 37.4569, 126.8955),
    District("노원구", "Nowon-gu", 37.6543, 127.0565),
    District("도봉구", "Dobong-gu", 37.6688, 127.0471),
    District("동대문구", "Dongdaemun-gu", 37.5744, 127.0397),
    District("동작구", "Dongjak-gu", 37.5124, 126.9393),
    District("마포구", "Mapo-gu", 37.5662, 126.9016),
    District("서대문구", "Seodaemun-gu", 37.5791, 126.9368),
    District("서초구", "Seocho-gu", 37.4837, 127.0324),
    District("성동구", "Seongdong-gu", 37.5634, 127.0369),
    District("성북구", "Seongbuk-gu", 37.5894, 127.0167),
    District("송파구", "Songpa-gu", 37.5145, 127.1059),
    District("양천구", "Yangcheon-gu", 37.5170, 126.8665),
    District("영등포구", "Yeongdeungpo-gu", 37.5264, 126.8962),
    District("용산구", "Yongsan-gu", 37.5324, 126.9905),
    District("은평구", "Eunpyeong-gu", 37.6027, 126.9291),
    District("종로구", "Jongno-gu", 37.5735, 126.9790),
    District("중구", "Jung-gu", 37.5641, 126.9979),
    District("중랑구", "Jungnang-gu", 37.6063, 127.0925),
)


@dataclass(frozen=True)
class Landmark:
    """A real, well-known place; an invented docking station is put next to it."""

    name: str
    name_en: str
    district: str
    lat: float
    lon: float


# Eight landmarks in each of five central districts. The station names, ids,
# capacities and exact positions written out are invented; only the landmarks
# are real, and their coordinates are approximate public knowledge.
LANDMARKS: tuple[Landmark, ...] = (
    Landmark("광화문광장", "Gwanghwamun Square", "종로구", 37.5725, 126.9769),
    Landmark("경복궁역", "Gyeongbokgung Station", "종로구", 37.5757, 126.9735),
    Landmark("안국역", "Anguk Station", "종로구", 37.5765, 126.9854),
    Landmark("종각역", "Jonggak Station", "종로구", 37.5702, 126.9831),
    Landmark("종로3가역", "Jongno 3-ga Station", "종로구", 37.5714, 126.9918),
    Landmark("혜화역", "Hyehwa Station", "종로구", 37.5822, 127.0019),
    Landmark("서울대학교병원", "Seoul National University Hospital", "종로구", 37.5796, 126.9990),
    Landmark("동대문역", "Dongdaemun Station", "종로구", 37.5712, 127.0095),
    Landmark("서울시청", "Seoul City Hall", "중구", 37.5663, 126.9779),
    Landmark("청계광장", "Cheonggye Plaza", "중구", 37.5692, 126.9780),
    Landmark("을지로입구역", "Euljiro 1-ga Station", "중구", 37.5660, 126.9826),
    Landmark("명동역", "Myeong-dong Station", "중구", 37.5609, 126.9863),
    Landmark("숭례문", "Sungnyemun Gate", "중구", 37.5600, 126.9753),
    Landmark("충무로역", "Chungmuro Station", "중구", 37.5612, 126.9942),
    Landmark("동대문디자인플라자", "Dongdaemun Design Plaza", "중구", 37.5665, 127.0092),
    Landmark("신당역", "Sindang Station", "중구", 37.5656, 127.0194),
    Landmark("홍대입구역", "Hongik University Station", "마포구", 37.5572, 126.9245),
    Landmark("합정역", "Hapjeong Station", "마포구", 37.5496, 126.9139),
    Landmark("망원역", "Mangwon Station", "마포구", 37.5560, 126.9101),
    Landmark("망원한강공원", "Mangwon Hangang Park", "마포구", 37.5556, 126.8950),
    Landmark("경의선숲길 연남동", "Gyeongui Line Forest Park (Yeonnam)", "마포구", 37.5612, 126.9236),
    Landmark("공덕역", "Gongdeok Station", "마포구", 37.5443, 126.9517),
    Landmark("마포구청역", "Mapo-gu Office Station", "마포구", 37.5635, 126.9034),
    Landmark("서울월드컵경기장", "Seoul World Cup Stadium", "마포구", 37.5683, 126.8972),
    Landmark("여의도역", "Yeouido Station", "영등포구", 37.5216, 126.9243),
    Landmark("여의나루역", "Yeouinaru Station", "영등포구", 37.5271, 126.9329),
    Landmark("국회의사당역", "National Assembly Station", "영등포구", 37.5281, 126.9178),
    Landmark("샛강역", "Saetgang Station", "영등포구", 37.5173, 126.9287),
    Landmark("영등포역", "Yeongdeungpo Station", "영등포구", 37.5157, 126.9076),
    Landmark("당산역", "Dangsan Station", "영등포구", 37.5347, 126.9025),
    Landmark("영등포구청역", "Yeongdeungpo-gu Office Station", "영등포구", 37.5249, 126.8957),
    Landmark("문래역", "Mullae Station", "영등포구", 37.5180, 126.8947),
    Landmark("강남역", "Gangnam Station", "강남구", 37.4979, 127.0276),
    Landmark("역삼역", "Yeoksam Station", "강남구", 37.5006, 127.0364),
    Landmark("선릉역", "Seolleung Station", "강남구", 37.5045, 127.0490),
    Landmark("삼성역 코엑스", "Samseong Station (COEX)", "강남구", 37.5088, 127.0631),
    Landmark("신사역", "Sinsa Station", "강남구", 37.5163, 127.0203),
    Landmark("압구정로데오역", "Apgujeong Rodeo Station", "강남구", 37.5274, 127.0405),
    Landmark("강남구청역", "Gangnam-gu Office Station", "강남구", 37.5172, 127.0412),
    Landmark("대치역", "Daechi Station", "강남구", 37.4946, 127.0634),
)

# Small fixed offsets (degrees) that move each invented dock 40-60 m off its
# landmark, so that no output row claims to be the landmark itself.
DOCK_OFFSETS: tuple[tuple[float, float], ...] = (
    (0.0003, 0.0004),
    (-0.0004, 0.0002),
    (0.0002, -0.0005),
    (-0.0003, -0.0003),
    (0.0005, 0.0001),
)
FIRST_DOCK_NUMBER = 101


class DeriveError(RuntimeError):
    """An input file is missing or does not look as expected."""


def read_text(path: Path, encodings: Sequence[str]) -> str:
    """Read a whole file, trying the encodings in order."""
    if not path.is_file():
        raise DeriveError(f"missing input: {path}")
    raw = path.read_bytes()
    for encoding in encodings:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text.removeprefix("\ufeff")
    raise DeriveError(f"{path}: not decodable as any of {', '.join(encodings)}")


def parse_number(cell: str) -> float | None:
    """A float, or None for an empty or non-numeric cell (NA, '-', blanks)."""
    text = cell.strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def column_index(header: Sequence[str], name: str, *, prefix: bool = False) -> int:
    """Position of a column, by exact name or by name prefix."""
    for index, title in enumerate(header):
        title = title.strip()
        if title == name or (prefix and title.startswith(name)):
            return index
    raise DeriveError(f"column {name!r} not found in header {list(header)!r}")


def fmt(value: float, decimals: int) -> str:
    """Fixed-point text without a negative zero."""
    text = f"{value:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


class Mean:
    """Running sum and count; missing values are simply not added."""

    __slots__ = ("count", "total")

    def __init__(self) -> None:
        self.total = 0.0
        self.count = 0

    def add(self, value: float | None) -> None:
        if value is not None:
            self.total += value
            self.count += 1

    def value(self) -> float | None:
        return self.total / self.count if self.count else None


def derive_seoul_air_monthly(root: Path) -> list[list[str]]:
    """Monthly means of the six pollutants at the 25 district stations in 2022."""
    path = root / "seoul_daily_air_quality" / "2022.csv"
    reader = csv.reader(io.StringIO(read_text(path, ("cp949", "utf-8"))))
    header = next(reader)
    date_col = column_index(header, SEOUL_DATE)
    station_col = column_index(header, SEOUL_STATION)
    # "초미세먼지농도" also contains "미세먼지농도", but not as a prefix, so prefix
    # matching keeps PM10 and PM2.5 apart.
    value_cols = {key: column_index(header, SEOUL_PREFIXES[key], prefix=True) for key in POLLUTANTS}

    wanted = {district.name for district in DISTRICTS}
    means: dict[tuple[str, int], dict[str, Mean]] = {}
    for row in reader:
        if not row:
            continue
        station = row[station_col].strip()
        if station not in wanted:
            continue
        date = row[date_col].strip()
        if len(date) != 8 or not date.isdigit() or not date.startswith("2022"):
            raise DeriveError(f"{path}: unexpected date {date!r}")
        month = int(date[4:6])
        cell = means.setdefault((station, month), {key: Mean() for key in POLLUTANTS})
        for key, col in value_cols.items():
            cell[key].add(parse_number(row[col]) if col < len(row) else None)

    rows: list[list[str]] = []
    for district in DISTRICTS:
        for month in range(1, 13):
            found = means.get((district.name, month))
            if found is None:
                raise DeriveError(f"{path}: no rows for {district.name} in month {month}")
            out = [district.name, str(month)]
            for key in POLLUTANTS:
                value = found[key].value()
                out.append("" if value is None else fmt(value, MONTHLY_DECIMALS[key]))
            rows.append(out)
    return rows


def derive_air_hourly_shape(root: Path) -> list[list[str]]:
    """For each hour, the mean concentration divided by the mean over the day.

    The hourly means pool all 12 Beijing stations and all four years; the
    daily mean is the mean of the 24 hourly means, so each column averages to 1.
    """
    folder = root / "beijing_multisite_air_quality"
    files = sorted(folder.glob("PRSA_Data_*.csv"))
    if len(files) != 12:
        raise DeriveError(f"{folder}: expected 12 station files, found {len(files)}")
    hourly: dict[str, list[Mean]] = {key: [Mean() for _ in range(24)] for key in POLLUTANTS}
    for path in files:
        reader = csv.reader(io.StringIO(read_text(path, ("utf-8", "latin-1"))))
        header = next(reader)
        hour_col = column_index(header, "hour")
        cols = {key: column_index(header, BEIJING_COLUMNS[key]) for key in POLLUTANTS}
        for row in reader:
            if not row:
                continue
            hour = int(row[hour_col])
            if not 0 <= hour <= 23:
                raise DeriveError(f"{path}: hour {hour} out of range")
            for key, col in cols.items():
                hourly[key][hour].add(parse_number(row[col]))

    ratios: dict[str, list[float]] = {}
    for key in POLLUTANTS:
        values: list[float] = []
        for hour, mean in enumerate(hourly[key]):
            value = mean.value()
            if value is None:
                raise DeriveError(f"Beijing data: no {key} values at hour {hour}")
            values.append(value)
        day = sum(values) / len(values)
        ratios[key] = [value / day for value in values]
    return [[str(hour)] + [fmt(ratios[key][hour], SHAPE_DECIMALS) for key in POLLUTANTS] for hour in range(24)]


def derive_bike_hourly(root: Path) -> list[list[str]]:
    """Mean city-wide rentals per (season, hour, holiday), over operating hours."""
    path = root / "seoul_bike_sharing" / "SeoulBikeData.csv"
    # The UCI original is Latin-1 (the degree sign in the header); the shared
    # copy is UTF-8. Only ASCII columns are used, so either decoding works.
    reader = csv.reader(io.StringIO(read_text(path, ("utf-8", "latin-1"))))
    header = next(reader)
    count_col = column_index(header, "Rented Bike Count")
    hour_col = column_index(header, "Hour")
    season_col = column_index(header, "Seasons")
    holiday_col = column_index(header, "Holiday")
    functioning_col = column_index(header, "Functioning Day")

    means: dict[tuple[str, int, str], Mean] = {}
    for row in reader:
        if not row:
            continue
        # On non-functioning days the service was off and the count is 0 by
        # construction; including them would understate demand.
        if row[functioning_col].strip().lower() != "yes":
            continue
        season = row[season_col].strip().lower()
        if season not in SEASONS:
            raise DeriveError(f"{path}: unknown season {row[season_col]!r}")
        holiday_text = row[holiday_col].strip().lower()
        if holiday_text not in ("holiday", "no holiday"):
            raise DeriveError(f"{path}: unknown holiday value {row[holiday_col]!r}")
        holiday = "yes" if holiday_text == "holiday" else "no"
        key = (season, int(row[hour_col]), holiday)
        means.setdefault(key, Mean()).add(parse_number(row[count_col]))

    rows: list[list[str]] = []
    for season in SEASONS:
        for hour in range(24):
            for holiday in ("no", "yes"):
                value = means.get((season, hour, holiday), Mean()).value()
                if value is None:
                    raise DeriveError(f"{path}: no operating hours for {season}, {hour}h, holiday={holiday}")
                rows.append([season, str(hour), holiday, fmt(value, BIKE_DECIMALS)])
    return rows


def seoul_station_rows() -> list[list[str]]:
    return [[d.name, d.name_en, fmt(d.lat, 4), fmt(d.lon, 4), "yes"] for d in DISTRICTS]


def bike_station_rows() -> list[list[str]]:
    rows: list[list[str]] = []
    for index, landmark in enumerate(LANDMARKS):
        dlat, dlon = DOCK_OFFSETS[index % len(DOCK_OFFSETS)]
        capacity = 10 + (index * 8 + 3) % 21  # 10..30, fixed per station
        rows.append(
            [
                f"ST-{FIRST_DOCK_NUMBER + index}",
                f"{landmark.name} 앞",
                landmark.name_en,
                landmark.district,
                fmt(landmark.lat + dlat, 5),
                fmt(landmark.lon + dlon, 5),
                str(capacity),
            ]
        )
    return rows


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> int:
    """Write UTF-8 CSV with LF line ends; returns the number of data rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    return count


def default_out_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "src" / "dosi" / "demo" / "data"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Derive Dosi's demo data files from the shared datasets.")
    parser.add_argument("datasets", type=Path, help="root folder holding the dataset folders")
    parser.add_argument("--out", type=Path, default=default_out_dir(), help="output folder (default: %(default)s)")
    args = parser.parse_args(argv)
    root: Path = args.datasets
    out: Path = args.out

    try:
        air_monthly = derive_seoul_air_monthly(root)
        shape = derive_air_hourly_shape(root)
        bike = derive_bike_hourly(root)
    except DeriveError as exc:
        print(f"derive_demo_data: {exc}", file=sys.stderr)
        return 1

    out.mkdir(parents=True, exist_ok=True)
    init = out / "__init__.py"
    if not init.exists():
        init.write_text("", encoding="utf-8")

    outputs: list[tuple[str, Sequence[str], list[list[str]]]] = [
        ("seoul_air_monthly.csv", ("station", "month", *POLLUTANTS), air_monthly),
        ("air_hourly_shape.csv", ("hour", *POLLUTANTS), shape),
        ("seoul_bike_hourly.csv", ("season", "hour", "holiday", "rented"), bike),
        ("seoul_stations.csv", ("station", "name_en", "lat", "lon", "approximate"), seoul_station_rows()),
        (
            "seoul_bike_stations.csv",
            ("station_id", "name", "name_en", "district", "lat", "lon", "capacity"),
            bike_station_rows(),
        ),
    ]
    for name, header, rows in outputs:
        count = write_csv(out / name, header, rows)
        print(f"{out / name}: {count} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
