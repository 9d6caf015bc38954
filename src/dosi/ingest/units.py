"""Unit conversion between UN/CEFACT Common Codes, with the spellings sources actually send. Pure."""

from __future__ import annotations


class UnknownUnit(ValueError):
    pass


# code -> (dimension, factor to the dimension's base, offset): base = value * factor + offset
UNITS: dict[str, tuple[str, float, float]] = {
    "GQ": ("mass concentration", 1.0, 0.0),  # microgram per cubic metre
    "GP": ("mass concentration", 1000.0, 0.0),  # milligram per cubic metre
    "59": ("mixing ratio", 1.0, 0.0),  # part per million
    "61": ("mixing ratio", 0.001, 0.0),  # part per billion
    "CEL": ("temperature", 1.0, 0.0),
    "KEL": ("temperature", 1.0, -273.15),
    "FAH": ("temperature", 5 / 9, -32 * 5 / 9),
    "MTS": ("speed", 1.0, 0.0),  # metre per second
    "KMH": ("speed", 1 / 3.6, 0.0),
    "HM": ("speed", 0.44704, 0.0),  # mile per hour
    "MTR": ("length", 1.0, 0.0),
    "CMT": ("length", 0.01, 0.0),
    "MMT": ("length", 0.001, 0.0),
    "KMT": ("length", 1000.0, 0.0),
    "A97": ("pressure", 1.0, 0.0),  # hectopascal
    "PAL": ("pressure", 0.01, 0.0),
    "KPA": ("pressure", 10.0, 0.0),
    "P1": ("ratio", 1.0, 0.0),  # percent
    "C62": ("ratio", 100.0, 0.0),  # one (a fraction)
    "2N": ("sound level", 1.0, 0.0),  # decibel
    "WTT": ("power", 1.0, 0.0),
    "KWT": ("power", 1000.0, 0.0),
    "KWH": ("energy", 1.0, 0.0),
    "WHR": ("energy", 0.001, 0.0),
    "SEC": ("time", 1.0, 0.0),
    "MIN": ("time", 60.0, 0.0),
    "HUR": ("time", 3600.0, 0.0),
    "KGM": ("mass", 1.0, 0.0),
    "GRM": ("mass", 0.001, 0.0),
    "TNE": ("mass", 1000.0, 0.0),
    "H87": ("count", 1.0, 0.0),  # piece
    "E47": ("count per hour", 1.0, 0.0),  # vehicles (or people) per hour
    "DD": ("angle", 1.0, 0.0),  # degree
}

ALIASES = {
    "ug/m3": "GQ",
    "µg/m3": "GQ",
    "µg/m³": "GQ",
    "㎍/㎥": "GQ",
    "mg/m3": "GP",
    "mg/m³": "GP",
    "ppm": "59",
    "ppb": "61",
    "c": "CEL",
    "°c": "CEL",
    "celsius": "CEL",
    "f": "FAH",
    "°f": "FAH",
    "k": "KEL",
    "m/s": "MTS",
    "km/h": "KMH",
    "kph": "KMH",
    "mph": "HM",
    "m": "MTR",
    "cm": "CMT",
    "mm": "MMT",
    "km": "KMT",
    "hpa": "A97",
    "pa": "PAL",
    "kpa": "KPA",
    "%": "P1",
    "percent": "P1",
    "db": "2N",
    "db(a)": "2N",
    "w": "WTT",
    "kw": "KWT",
    "kwh": "KWH",
    "wh": "WHR",
    "s": "SEC",
    "min": "MIN",
    "h": "HUR",
    "kg": "KGM",
    "g": "GRM",
    "t": "TNE",
    "°": "DD",
}


def code_of(unit: str) -> str:
    """The UN/CEFACT code of a unit written as a code or as a common spelling."""
    cleaned = unit.strip()
    if cleaned in UNITS:
        return cleaned
    code = ALIASES.get(cleaned.lower())
    if code is None:
        raise UnknownUnit(f"unknown unit {unit!r} / 알 수 없는 단위 {unit!r}")
    return code


def convert(value: float, unit: str, target: str) -> float:
    source_code, target_code = code_of(unit), code_of(target)
    if source_code == target_code:
        return value
    (dimension, factor, offset), (wanted, t_factor, t_offset) = UNITS[source_code], UNITS[target_code]
    if dimension != wanted:
        raise UnknownUnit(f"cannot convert {dimension} ({unit}) to {wanted} ({target})")
    return round((value * factor + offset - t_offset) / t_factor, 9)
