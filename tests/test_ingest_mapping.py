"""Mapping tables, value functions and units: a record becomes an entity, or a rejection with a reason."""

from __future__ import annotations

from typing import Any

import pytest

from dosi.ingest.formats import parse
from dosi.ingest.mapping import Mapping, MappingError, Rejected
from dosi.ingest.units import UnknownUnit, convert
from dosi.models.registry import ModelRegistry

REGISTRY = ModelRegistry()


def traffic(**extra: Any) -> Mapping:
    table: dict[str, Any] = {
        "type": "TrafficFlowObserved",
        "id": "urn:ngsi-ld:TrafficFlowObserved:{detector}:{lane}",
        "observed_at": {"field": "time", "format": "%Y-%m-%d %H:%M", "timezone": "Asia/Seoul"},
        "location": {"lat": "lat", "lon": "lon"},
        "attributes": {
            "intensity": {"field": "count", "function": "number", "required": True},
            "averageVehicleSpeed": {"field": "speed", "function": "number", "unit_field": "unit"},
            "congested": {"field": "jam", "function": "boolean"},
            "refRoadSegment": {"template": "urn:ngsi-ld:RoadSegment:{road}", "kind": "Relationship"},
        },
        **extra,
    }
    return Mapping.from_table(table, REGISTRY.get("TrafficFlowObserved"))


RECORD = {"detector": "GN 01", "lane": 2, "time": "2026-11-21 14:05", "count": "84", "speed": 10, "unit": "m/s",
          "jam": "Y", "road": "R1", "lat": "37.5", "lon": 127.0}  # fmt: skip


def test_a_record_becomes_an_entity() -> None:
    entity = traffic().entity(RECORD)
    assert entity["id"] == "urn:ngsi-ld:TrafficFlowObserved:GN_01:2"  # spaces cannot stand in an id
    assert entity["type"] == "TrafficFlowObserved"
    assert entity["intensity"] == {"type": "Property", "value": 84, "unitCode": "H87",
                                   "observedAt": "2026-11-21T05:05:00.000Z"}  # fmt: skip
    assert entity["averageVehicleSpeed"]["value"] == pytest.approx(36.0)  # m/s to the model's km/h
    assert entity["averageVehicleSpeed"]["unitCode"] == "KMH"
    assert entity["congested"]["value"] is True
    assert entity["refRoadSegment"]["object"] == "urn:ngsi-ld:RoadSegment:R1"
    assert entity["location"]["value"] == {"type": "Point", "coordinates": [127.0, 37.5]}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"detector": None}, "no value for {detector}"),
        ({"count": "many"}, "not a number"),
        ({"count": "-"}, "intensity: missing field count"),
        ({"unit": "furlong/fortnight"}, "unknown unit 'furlong/fortnight'"),
        ({"unit": "kg"}, "cannot convert mass"),
        ({"time": "yesterday"}, "unreadable time 'yesterday'"),
        ({"lat": 137.5}, "position out of range"),
        ({"jam": "perhaps"}, "not a yes/no value"),
    ],
)
def test_bad_records_are_rejected_with_a_reason(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(Rejected, match=reason.replace("(", r"\(").replace("{", r"\{").replace("}", r"\}")):
        traffic().entity({**RECORD, **change})


def test_blank_optional_fields_are_left_out() -> None:
    entity = traffic().entity({**RECORD, "speed": "-", "jam": ""})
    assert "averageVehicleSpeed" not in entity and "congested" not in entity


def test_records_and_joins() -> None:
    mapping = Mapping.from_table(
        {
            "type": "AirQualityObserved",
            "id": "urn:ngsi-ld:AirQualityObserved:{stationName}",
            "records": "response.body.items.item",
            "location": {"lat": "lat", "lon": "lon"},
            "join": {"file": "package:dosi.demo/data/seoul_stations.csv", "key": "stationName", "on": "station"},
            "attributes": {"pm25": {"field": "pm25Value", "function": "number"}},
        },
        REGISTRY.get("AirQualityObserved"),
    )
    with open("tests/fixtures/opendata/airkorea_ctprvn_page1.xml", "rb") as handle:
        (document,) = parse(handle.read(), "xml")
    records = mapping.records_of(document)
    assert len(records) == 10
    first = mapping.entity(records[0])
    assert first["id"] == "urn:ngsi-ld:AirQualityObserved:중구" and first["pm25"]["value"] == 22
    assert first["location"]["value"]["coordinates"][1] == pytest.approx(37.56, abs=0.02)
    with pytest.raises(Rejected, match="no reference row"):
        mapping.entity(next(r for r in records if r["stationName"] == "청계천로"))  # a roadside station


def test_bad_mappings_are_refused_when_loaded() -> None:
    with pytest.raises(MappingError, match="unknown function"):
        traffic(attributes={"intensity": {"field": "count", "function": "eval"}})
    with pytest.raises(MappingError, match="needs 'id'"):
        Mapping.from_table({"type": "T", "attributes": {"a": "b"}})
    with pytest.raises(MappingError, match="unknown timezone"):
        traffic(observed_at={"field": "t", "timezone": "Mars/Olympus"})


def test_units() -> None:
    assert convert(1.0, "mg/m3", "GQ") == 1000.0
    assert convert(212, "°F", "CEL") == pytest.approx(100.0)
    assert convert(30, "ppb", "59") == pytest.approx(0.03)
    assert convert(50, "%", "C62") == pytest.approx(0.5)
    with pytest.raises(UnknownUnit):
        convert(1, "ppm", "GQ")  # mixing ratio to mass concentration needs the gas and the air: refused


def test_bodies() -> None:
    assert parse(b'{"a": 1}\n{"a": 2}\n', "ndjson") == [{"a": 1}, {"a": 2}]
    with pytest.raises(Rejected, match="not valid JSON"):
        parse(b"{oops", "json")
    with pytest.raises(Rejected, match="not valid XML"):
        parse(b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>', "xml")  # entities refused


def test_only_readings_carry_the_observed_time() -> None:
    """A constant describes the thing, it was not read: no observedAt (so no history instance per record);
    `observed` says so for a field or template too."""
    mapping = traffic(
        attributes={
            "intensity": {"field": "count", "function": "number"},
            "dataProvider": {"value": "Seoul TOPIS"},
            "refRoadSegment": {"template": "urn:ngsi-ld:RoadSegment:{road}", "kind": "Relationship", "observed": False},
            "name": {"value": "detector", "observed": True},
        }
    )
    entity = mapping.entity(RECORD)
    assert entity["intensity"]["observedAt"] == entity["name"]["observedAt"] == "2026-11-21T05:05:00.000Z"
    assert "observedAt" not in entity["dataProvider"] and "observedAt" not in entity["refRoadSegment"]
    with pytest.raises(MappingError, match="observed must be true or false"):
        traffic(attributes={"intensity": {"field": "count", "observed": "yes"}})
