"""File import: CSV, GeoJSON and NDJSON, streamed (a file larger than memory is read a batch at a time)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

FILE_FORMATS = ("csv", "geojson", "ndjson")


def format_of(path: Path, given: str | None) -> str:
    fmt = given or {".csv": "csv", ".geojson": "geojson", ".ndjson": "ndjson", ".jsonl": "ndjson"}.get(
        path.suffix.lower(), ""
    )
    if fmt not in FILE_FORMATS:
        raise ValueError(f"cannot tell the format of {path.name}: give one of {', '.join(FILE_FORMATS)}")
    return fmt


def records(path: Path, fmt: str, encoding: str = "utf-8") -> Iterator[tuple[int, Any]]:
    """(line or feature number, record) for each record of the file, read as a stream."""
    if fmt == "csv":
        with path.open(encoding=encoding, newline="") as handle:
            for number, row in enumerate(csv.DictReader(handle), start=2):
                yield number, row
    elif fmt == "ndjson":
        with path.open("rb") as raw:
            for number, line in enumerate(raw, start=1):
                if line.strip():
                    yield number, _json_or_text(line)
    else:
        import ijson

        with path.open("rb") as raw:
            for number, feature in enumerate(ijson.items(raw, "features.item", use_float=True), start=1):
                yield number, _flatten_feature(feature)


def _json_or_text(line: bytes) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return line.decode("utf-8", "replace").strip()  # the mapping rejects it, with the line kept


def _flatten_feature(feature: Any) -> Any:
    """A GeoJSON feature as a record: its properties, plus `geometry`, and `lon`/`lat` for points."""
    if not isinstance(feature, dict):
        return feature
    record = dict(feature.get("properties") or {})
    geometry = feature.get("geometry")
    record["geometry"] = geometry
    if isinstance(geometry, dict) and geometry.get("type") == "Point":
        coordinates = geometry.get("coordinates") or [None, None]
        record["lon"], record["lat"] = coordinates[0], coordinates[1]
    if "id" in feature:
        record.setdefault("id", feature["id"])
    return record


def sniff_encoding(path: Path) -> str:
    """utf-8 unless the file does not decode as such (Korean public files are often CP949)."""
    with path.open("rb") as raw:
        head = raw.read(1 << 16)
    try:
        head.decode("utf-8")
        return "utf-8-sig" if head.startswith(b"\xef\xbb\xbf") else "utf-8"
    except UnicodeDecodeError as err:
        if err.start > len(head) - 4:
            return "utf-8"  # a character cut at the end of the sample
        return "cp949"
