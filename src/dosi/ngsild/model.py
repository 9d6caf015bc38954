"""The internal shape of an entity, and checks that are pure NGSI-LD.

An entity is kept *expanded*: attribute names and types are absolute IRIs, so
that two clients with different @contexts address the same data. Shape:

    {"id": str, "type": [type IRI, ...], "scope": [str, ...]?,
     "createdAt": str, "modifiedAt": str,
     "attrs": {attr IRI: [instance, ...]}}

An instance is the attribute as given in the normalized form, with its
sub-attributes moved under "sub" (keyed by IRI):

    {"type": "Property", "value": ..., "observedAt": ..., "unitCode": ...,
     "datasetId": ..., "createdAt": ..., "modifiedAt": ..., "sub": {IRI: instance}}
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

NGSILD = "https://uri.etsi.org/ngsi-ld/"

# attribute type -> the member that carries its value
VALUE_KEY: dict[str, str] = {
    "Property": "value",
    "GeoProperty": "value",
    "Relationship": "object",
    "LanguageProperty": "languageMap",
    "VocabProperty": "vocab",
    "JsonProperty": "json",
    "ListProperty": "valueList",
    "ListRelationship": "objectList",
}
ATTRIBUTE_TYPES = frozenset(VALUE_KEY)
VALUE_KEYS = frozenset(VALUE_KEY.values())

# members of an attribute that are not sub-attributes
META_KEYS = frozenset(
    {
        "type",
        "datasetId",
        "observedAt",
        "unitCode",
        "createdAt",
        "modifiedAt",
        "deletedAt",
        "instanceId",
        "lang",
        "objectType",
        "previousValue",
        "previousObject",
        "previousLanguageMap",
        "previousVocab",
        "previousJson",
        "previousValueList",
        "previousObjectList",
        "@context",
    }
    | VALUE_KEYS
)
ENTITY_KEYS = frozenset({"id", "type", "scope", "createdAt", "modifiedAt", "deletedAt", "@context"})
SYSTEM_KEYS = frozenset({"createdAt", "modifiedAt", "deletedAt"})

GEO_IRIS = frozenset(NGSILD + name for name in ("location", "observationSpace", "operationSpace"))
LOCATION = NGSILD + "location"
SCOPE = NGSILD + "scope"  # the history keeps an entity's scopes as instances of this pseudo-attribute
NULL_URI = "urn:ngsi-ld:null"

GEOMETRY_TYPES = {
    "Point": 0,
    "MultiPoint": 1,
    "LineString": 1,
    "MultiLineString": 2,
    "Polygon": 2,
    "MultiPolygon": 3,
}

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]*$")
_FORBIDDEN_NAME = re.compile(r"[<>\"'=()\s;]")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def now_iso() -> str:
    stamp = datetime.now(UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond:06d}Z"


def is_uri(value: Any) -> bool:
    return isinstance(value, str) and bool(_URI.match(value))


def is_valid_name(name: str) -> bool:
    return bool(name) and not _FORBIDDEN_NAME.search(name)


_CANONICAL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?Z")


def is_datetime(value: Any) -> bool:
    if not isinstance(value, str) or not _DATETIME.match(value):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def normalize_datetime(value: str) -> str:
    """Render a client's timestamp (one is_datetime accepted) in UTC with Z, keeping its precision."""
    if _CANONICAL.fullmatch(value):
        return value  # in UTC with Z already, at most microseconds
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    utc = parsed.astimezone(UTC)
    frac = ""
    if "." in value:
        digits = re.match(r"[^.]*\.(\d+)", value)
        if digits:
            width = len(digits.group(1))
            frac = "." + f"{utc.microsecond:06d}"[: min(width, 6)].ljust(width, "0")
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + frac + "Z"


def _positions_ok(coords: Any, depth: int) -> bool:
    if depth == 0:
        return (
            isinstance(coords, list)
            and 2 <= len(coords) <= 3
            and all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in coords)
        )
    return isinstance(coords, list) and len(coords) > 0 and all(_positions_ok(c, depth - 1) for c in coords)


def geometry_problem(value: Any) -> str | None:
    """Why `value` is not a GeoJSON geometry NGSI-LD accepts, or None when it is fine."""
    if not isinstance(value, dict):
        return "a GeoProperty value must be a GeoJSON geometry object"
    gtype = value.get("type")
    if gtype not in GEOMETRY_TYPES:
        return f"unsupported GeoJSON geometry type {gtype!r}"
    coords: Any = value.get("coordinates")
    if not _positions_ok(coords, GEOMETRY_TYPES[gtype]):
        return f"invalid coordinates for a {gtype}"
    if gtype == "LineString" and len(coords) < 2:
        return "a LineString needs at least two positions"
    if gtype == "Polygon":
        for ring in coords:
            if len(ring) < 4 or ring[0] != ring[-1]:
                return "each Polygon ring needs four or more positions and must be closed"
    return None


def is_geometry(value: Any) -> bool:
    return geometry_problem(value) is None


def bbox(value: dict[str, Any]) -> tuple[float, float, float, float]:
    """(min lon, min lat, max lon, max lat) of a GeoJSON geometry."""
    xs: list[float] = []
    ys: list[float] = []

    def walk(coords: Any) -> None:
        if coords and isinstance(coords[0], (int, float)):
            xs.append(float(coords[0]))
            ys.append(float(coords[1]))
        else:
            for item in coords:
                walk(item)

    walk(value["coordinates"])
    return min(xs), min(ys), max(xs), max(ys)


def value_of(instance: dict[str, Any]) -> Any:
    """The value an instance carries, whatever its attribute type."""
    return instance.get(VALUE_KEY.get(instance.get("type", "Property"), "value"))
