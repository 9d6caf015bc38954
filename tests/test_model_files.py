"""The built-in data-model files (src/dosi/models/builtin/*.json): shape, URIs, schemas, units, texts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest

from dosi.models.airkorea import GRADES

BUILTIN = Path(__file__).resolve().parent.parent / "src" / "dosi" / "models" / "builtin"
FILES = sorted(BUILTIN.glob("*.json"))

DOMAINS = {
    "AirQualityObserved": "Environment",
    "NoiseLevelObserved": "Environment",
    "WeatherObserved": "Weather",
    "TrafficFlowObserved": "Transportation",
    "BikeHireDockingStation": "Transportation",
    "ParkingSpot": "Parking",
    "OffStreetParking": "Parking",
    "Streetlight": "Streetlighting",
    "WasteContainer": "WasteManagement",
    "Device": "Device",
}
TOP_KEYS = {"type", "uri", "domain", "title", "description", "required", "attributes"}
ATTRIBUTE_KEYS = {"uri", "kind", "schema", "privacy", "description"}
OPTIONAL_ATTRIBUTE_KEYS = {"unitCode"}
KINDS = {"Property", "GeoProperty", "Relationship", "LanguageProperty"}
PRIVACY = {"direct-id", "quasi-id", "sensitive", "non-personal"}
COMMON = {
    "name",
    "description",
    "address",
    "dateObserved",
    "dateCreated",
    "dateModified",
    "source",
    "dataProvider",
    "areaServed",
    "alternateName",
    "seeAlso",
    "owner",
    "timeInstant",
}
LOCATION_URI = "https://uri.etsi.org/ngsi-ld/location"
# UN/CEFACT Recommendation 20 common codes used by the models, each checked against the Rec 20 list.
UNIT_CODES = {
    "GQ": "microgram per cubic metre",
    "59": "part per million",
    "CEL": "degree Celsius",
    "MTS": "metre per second",
    "KMH": "kilometre per hour",
    "A97": "hectopascal",
    "MMT": "millimetre",
    "CMT": "centimetre",
    "MTR": "metre",
    "SEC": "second",
    "KGM": "kilogram",
    "D54": "watt per square metre",
    "DD": "degree (angle)",
    "WTT": "watt",
    "2N": "decibel",
    "DBM": "decibel-milliwatt",
    "H87": "piece",
}
HANGUL = re.compile("[\uac00-\ud7a3]")


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


MODELS = {path.stem: load(path) for path in FILES}
ATTRIBUTES = [
    pytest.param(model["type"], name, spec, id=f"{model['type']}.{name}")
    for model in MODELS.values()
    for name, spec in model["attributes"].items()
]


def is_numeric(schema: dict[str, Any]) -> bool:
    return schema.get("type") in ("number", "integer")


def is_uri_schema(schema: dict[str, Any]) -> bool:
    if schema == {"type": "string", "format": "uri"}:
        return True
    if schema.get("type") == "array":
        return is_uri_schema(schema.get("items", {}))
    if "anyOf" in schema:
        return all(is_uri_schema(option) for option in schema["anyOf"])
    return False


def bilingual(text: Any) -> bool:
    return (
        isinstance(text, dict)
        and isinstance(text.get("en"), str)
        and isinstance(text.get("ko"), str)
        and bool(text["en"].strip())
        and bool(HANGUL.search(text["ko"]))
    )


def test_the_ten_types_are_present():
    assert set(DOMAINS) <= set(MODELS)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_file_is_utf8_json_with_real_korean(path):
    raw = path.read_text(encoding="utf-8")
    assert "\\u" not in raw, "Korean text must be written as characters, not \\u escapes"
    assert raw.startswith('{\n  "'), "two-space indented JSON"
    assert raw.endswith("\n")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_shape(name):
    model = MODELS[name]
    assert set(model) == TOP_KEYS
    assert model["type"] == name
    domain = DOMAINS.get(name, model["domain"])
    assert model["domain"] == domain
    assert model["uri"] == f"https://smartdatamodels.org/dataModel.{domain}/{name}"
    assert bilingual(model["title"]) and bilingual(model["description"])
    assert isinstance(model["required"], list)
    assert set(model["required"]) <= set(model["attributes"])
    assert len(set(model["required"])) == len(model["required"])
    # NGSI-LD carries the observation time as observedAt on each attribute (the ingest mappings set it so),
    # so the SDM's required observation dates are not required here.
    assert not {"dateObserved", "dateObservedFrom", "dateObservedTo"} & set(model["required"])
    assert 8 <= len(model["attributes"]) <= 25
    for must in ("name", "location", "address"):
        assert must in model["attributes"], f"{name} lacks {must}"
    assert any("date" in a.lower() or a == "timeInstant" for a in model["attributes"]), f"{name} has no date"


@pytest.mark.parametrize(("model_type", "name", "spec"), ATTRIBUTES)
def test_attribute(model_type, name, spec):
    domain = MODELS[model_type]["domain"]
    assert ATTRIBUTE_KEYS <= set(spec) <= ATTRIBUTE_KEYS | OPTIONAL_ATTRIBUTE_KEYS
    assert spec["kind"] in KINDS
    assert spec["privacy"] in PRIVACY
    assert bilingual(spec["description"])

    if name == "location":
        expected_uri = LOCATION_URI
    elif name in COMMON:
        expected_uri = f"https://smartdatamodels.org/{name}"
    else:
        expected_uri = f"https://smartdatamodels.org/dataModel.{domain}/{name}"
    assert spec["uri"] == expected_uri

    schema = spec["schema"]
    assert isinstance(schema, dict)
    fastjsonschema.compile({"$schema": "http://json-schema.org/draft-07/schema#", **schema})

    if spec["kind"] == "GeoProperty":
        assert schema == {"type": "object"}
    if spec["kind"] == "Relationship":
        assert is_uri_schema(schema), f"{name}: a Relationship's value is a URI (or a list of URIs)"
    if name.startswith("ref"):
        assert spec["kind"] == "Relationship"

    if "unitCode" in spec:
        assert is_numeric(schema), f"{name}: unitCode on a non-numeric attribute"
        assert spec["unitCode"] in UNIT_CODES, f"{name}: unit code {spec['unitCode']} is not in the checked list"


def test_dates_are_date_times():
    for model in MODELS.values():
        for name, spec in model["attributes"].items():
            if name.startswith("date") and name != "dateObserved":
                assert spec["schema"] == {"type": "string", "format": "date-time"}, f"{model['type']}.{name}"


def test_air_quality_observed():
    attributes = MODELS["AirQualityObserved"]["attributes"]
    units = {"pm10": "GQ", "pm25": "GQ", "no2": "59", "o3": "59", "co": "59", "so2": "59"}
    for name, unit in units.items():
        assert attributes[name]["unitCode"] == unit
        assert attributes[name]["schema"]["minimum"] == 0
    assert "unitCode" not in attributes["airQualityIndex"]
    assert attributes["airQualityIndex"]["schema"]["type"] == "integer"
    assert attributes["airQualityLevel"]["schema"]["enum"] == list(GRADES)
    for ko in ("좋음", "보통", "나쁨", "매우나쁨"):
        assert ko in attributes["airQualityLevel"]["description"]["ko"]


def test_sdm_enumerations():
    parking = MODELS["ParkingSpot"]["attributes"]
    assert parking["status"]["schema"]["enum"] == ["closed", "free", "occupied", "unknown"]
    light = MODELS["Streetlight"]["attributes"]
    assert set(light["powerState"]["schema"]["enum"]) == {"on", "off", "low", "bootingUp"}
    assert MODELS["TrafficFlowObserved"]["attributes"]["congested"]["schema"] == {"type": "boolean"}


@pytest.mark.parametrize("attribute", ["relativeHumidity", "reliability"])
def test_fractions_are_zero_to_one(attribute):
    schema = MODELS["AirQualityObserved"]["attributes"][attribute]["schema"]
    assert (schema["minimum"], schema["maximum"]) == (0, 1)


def test_device_privacy():
    device = MODELS["Device"]["attributes"]
    assert device["owner"]["privacy"] == "direct-id"
    for name in ("serialNumber", "macAddress", "ipAddress", "location"):
        assert device[name]["privacy"] == "quasi-id", name
    for model in MODELS.values():
        if model["type"] != "Device":
            assert {spec["privacy"] for spec in model["attributes"].values()} == {"non-personal"}, model["type"]


# A plausible value for some attributes, and one each attribute's schema must refuse.
SAMPLES = [
    ("AirQualityObserved", "pm25", 23.0, -1),
    ("AirQualityObserved", "airQualityLevel", "veryUnhealthy", "hazardous"),
    ("AirQualityObserved", "airQualityIndex", 75, 75.5),
    ("AirQualityObserved", "dateObserved", "2024-05-01T09:00:00Z", "yesterday"),
    ("AirQualityObserved", "refDevice", "urn:ngsi-ld:Device:aq-01", 7),
    ("WeatherObserved", "windDirection", 270, 400),
    ("WeatherObserved", "relativeHumidity", 0.54, 54),
    ("WeatherObserved", "pressureTendency", "falling", "down"),
    ("TrafficFlowObserved", "occupancy", 0.3, 1.5),
    ("TrafficFlowObserved", "laneDirection", "forward", "north"),
    ("ParkingSpot", "status", "free", "vacant"),
    ("ParkingSpot", "category", ["onStreet"], []),
    ("ParkingSpot", "refDevice", ["urn:ngsi-ld:Device:ps-1"], []),
    ("ParkingSpot", "refDevice", "urn:ngsi-ld:Device:ps-1", 1),
    ("OffStreetParking", "status", ["spacesAvailable"], "open"),
    ("OffStreetParking", "availableSpotNumber", 120, -3),
    ("BikeHireDockingStation", "status", "working", "ok"),
    ("Streetlight", "powerState", "low", "dim"),
    ("Streetlight", "illuminanceLevel", 0.7, 70),
    ("WasteContainer", "fillingLevel", 0.85, 1.2),
    ("WasteContainer", "storedWasteKind", "plastic", "vinyl"),
    ("NoiseLevelObserved", "sonometerClass", "1", 1),
    ("Device", "batteryLevel", -1, -0.5),
    ("Device", "batteryLevel", 0.8, 2),
    ("Device", "macAddress", "00:1A:2B:3C:4D:5E", "001A2B3C4D5E"),
    ("Device", "ipAddress", ["192.0.2.10", "2001:db8::1"], ["not-an-ip"]),
    ("Device", "controlledProperty", ["airPollution", "noiseLevel"], ["magic"]),
]


@pytest.mark.parametrize(("model_type", "name", "good", "bad"), SAMPLES)
def test_schema_accepts_and_refuses(model_type, name, good, bad):
    validate = fastjsonschema.compile(MODELS[model_type]["attributes"][name]["schema"])
    validate(good)
    with pytest.raises(fastjsonschema.JsonSchemaValueException):
        validate(bad)
