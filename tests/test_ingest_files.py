"""`dosi import`: CSV (also CP949), GeoJSON and NDJSON, streamed in batches; bad rows rejected with their line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dosi.cli import main

MAPPING = """
name = "noise-file"
kind = "file"
[mapping]
type = "NoiseLevelObserved"
id = "urn:ngsi-ld:NoiseLevelObserved:{station}"
observed_at = { field = "time", format = "%Y-%m-%d %H:%M", timezone = "Asia/Seoul" }
location = { lat = "lat", lon = "lon" }
[mapping.attributes]
LAeq = { field = "laeq", function = "number", required = true }
name = { field = "name", function = "text" }
"""


def run(*args: str) -> dict[str, int]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def clean(database_url: str) -> None:
    """An empty store (PostgreSQL's test database is shared by the whole run)."""
    result = CliRunner().invoke(main, ["db", "reset", "--yes", "--database-url", database_url])
    assert result.exit_code == 0, result.output


@pytest.fixture
def mapping(tmp_path: Path) -> Path:
    path = tmp_path / "noise.toml"
    path.write_text(MAPPING, encoding="utf-8")
    return path


def test_csv_in_batches_with_bad_rows(tmp_path: Path, mapping: Path, database_url: str, clean: None) -> None:
    rows = ["station,name,time,laeq,lat,lon"]
    for hour in range(2500):  # more than one batch of 1,000
        day, h = divmod(hour, 24)
        when = f"2026-0{1 + day // 28}-{1 + day % 28:02d} {h:02d}:00"
        rows.append(f"S{hour % 5},강남대로 {hour % 5},{when},{50 + hour % 7},37.5,127.0")
    rows.append("S9,bad,2026-01-01 00:00,loud,37.5,127.0")
    rows.append("S9,bad,not a time,50,37.5,127.0")
    path = tmp_path / "noise.csv"
    path.write_text("\n".join(rows) + "\n", encoding="cp949")  # Korean public files often are
    summary = run("import", str(path), "--mapping", str(mapping), "--database-url", database_url)
    assert summary["records"] == 2502 and summary["stored"] == 2500 and summary["rejected"] == 2
    again = run("import", str(path), "--mapping", str(mapping), "--database-url", database_url)
    assert again["stored"] == 0 and again["duplicates"] == 2500  # importing twice stores nothing twice
    listed = CliRunner().invoke(main, ["ingest", "rejected", "--json", "--database-url", database_url])
    reasons = {json.loads(r["payload"])["$line"]: r["reason"] for r in json.loads(listed.stdout)}
    assert "not a number: 'loud'" in reasons[2502] and "unreadable time 'not a time'" in reasons[2503]
    status = CliRunner().invoke(main, ["ingest", "status", "--json", "--database-url", database_url])
    (noise,) = [s for s in json.loads(status.stdout) if s["name"] == "noise-file"]
    assert noise["state"] == "imported" and noise["duplicates"] == 2500


def test_geojson_and_ndjson(tmp_path: Path, mapping: Path, database_url: str, clean: None) -> None:
    features = [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [127.0 + n / 100, 37.5]},
         "properties": {"station": f"G{n}", "name": f"지점 {n}", "time": "2026-01-01 09:00", "laeq": 55 + n}}
        for n in range(3)
    ]  # fmt: skip
    geo = tmp_path / "noise.geojson"
    geo.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    assert run("import", str(geo), "--mapping", str(mapping), "--database-url", database_url)["stored"] == 3
    lines = [json.dumps({"station": "N1", "time": f"2026-01-01 0{h}:00", "laeq": 60, "lat": 37.5, "lon": 127})
             for h in range(3)]  # fmt: skip
    nd = tmp_path / "noise.ndjson"
    nd.write_text("\n".join([*lines, "{not json", ""]), encoding="utf-8")
    summary = run("import", str(nd), "--mapping", str(mapping), "--database-url", database_url)
    assert summary["stored"] == 3 and summary["rejected"] == 1


def test_bad_mapping_is_refused(tmp_path: Path, database_url: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nkind = "file"\n[mapping]\ntype = "T"\n', encoding="utf-8")
    data = tmp_path / "d.csv"
    data.write_text("a\n1\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["import", str(data), "--mapping", str(bad), "--database-url", database_url])
    assert result.exit_code != 0 and "needs 'id'" in result.output
