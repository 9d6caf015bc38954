"""Client payloads (normalized, concise or simplified; compacted) -> internal expanded form."""

from __future__ import annotations

from typing import Any

from dosi.errors import BadRequestData
from dosi.ngsild.context import ActiveContext
from dosi.ngsild.model import (
    ATTRIBUTE_TYPES,
    ENTITY_KEYS,
    GEO_IRIS,
    META_KEYS,
    NULL_URI,
    VALUE_KEY,
    geometry_problem,
    is_datetime,
    is_geometry,
    is_uri,
    is_valid_name,
    normalize_datetime,
)

_INFER_ORDER = (
    ("object", "Relationship"),
    ("languageMap", "LanguageProperty"),
    ("vocab", "VocabProperty"),
    ("json", "JsonProperty"),
    ("valueList", "ListProperty"),
    ("objectList", "ListRelationship"),
    ("value", "Property"),
)


def expand_type(ctx: ActiveContext, name: Any) -> str:
    if not isinstance(name, str) or not name or not is_valid_name(name):
        raise BadRequestData(f"invalid entity type {name!r}")
    iri = ctx.expand(name)
    if iri.startswith("@"):
        raise BadRequestData(f"the entity type {name!r} expands to the keyword {iri}")
    return iri


def parse_types(ctx: ActiveContext, raw: Any) -> list[str]:
    names = raw if isinstance(raw, list) else [raw]
    if not names:
        raise BadRequestData("an entity needs at least one type")
    out: list[str] = []
    for name in names:
        iri = expand_type(ctx, name)
        if iri not in out:
            out.append(iri)
    return out


def parse_scope(raw: Any) -> list[str]:
    scopes = raw if isinstance(raw, list) else [raw]
    for scope in scopes:
        if not isinstance(scope, str) or not scope.startswith("/") or scope.endswith("/") and scope != "/":
            raise BadRequestData(f"invalid scope {scope!r}")
    return list(scopes)


class Parser:
    """Turns one request's attributes into instances. `key_values` selects the simplified form."""

    def __init__(
        self, ctx: ActiveContext, now: str, key_values: bool = False, allow_null: bool = False, partial: bool = False
    ):
        self.ctx = ctx
        self.now = now
        self.key_values = key_values
        self.allow_null = allow_null  # merge-patch: urn:ngsi-ld:null deletes
        self.partial = partial  # a fragment of an existing attribute: the value may be absent
        self.temporal = False  # instances over time: several may share a datasetId

    # -- entities --------------------------------------------------------
    def entity(self, body: Any, require_type: bool = True) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise BadRequestData("an entity must be a JSON object")
        eid = body.get("id", body.get("@id"))
        if not is_uri(eid):
            raise BadRequestData(f"the entity id {eid!r} is not a URI")
        entity: dict[str, Any] = {"id": eid}
        raw_type = body.get("type", body.get("@type"))
        if raw_type is None:
            if require_type:
                raise BadRequestData("the entity has no type")
        else:
            entity["type"] = parse_types(self.ctx, raw_type)
        if "scope" in body:
            entity["scope"] = parse_scope(body["scope"])
        entity["attrs"] = self.attributes(body, skip=ENTITY_KEYS | {"@id", "@type"})
        return entity

    def attributes(self, body: dict[str, Any], skip: frozenset[str] = frozenset()) -> dict[str, list[dict[str, Any]]]:
        attrs: dict[str, list[dict[str, Any]]] = {}
        for name, raw in body.items():
            if name in skip:
                continue
            if name in ENTITY_KEYS:
                if name in ("createdAt", "modifiedAt", "deletedAt"):
                    continue
                raise BadRequestData(f"{name!r} cannot be used as an attribute name")
            iri = self.attr_name(name)
            attrs[iri] = self.instances(iri, raw)
        return attrs

    def attr_name(self, name: Any) -> str:
        if not isinstance(name, str) or not is_valid_name(name):
            raise BadRequestData(f"invalid attribute name {name!r}")
        iri = self.ctx.expand(name)
        if iri.startswith("@"):
            raise BadRequestData(f"the attribute name {name!r} expands to the keyword {iri}")
        return iri

    # -- attributes ------------------------------------------------------
    def instances(self, iri: str, raw: Any) -> list[dict[str, Any]]:
        if (
            isinstance(raw, list)
            and not self.key_values
            and raw
            and all(
                isinstance(item, dict) and (item.get("type") in ATTRIBUTE_TYPES or _has_value_key(item)) for item in raw
            )
        ):
            found = [self.instance(iri, item) for item in raw]
            seen: set[Any] = set()
            for inst in found:
                key = inst.get("datasetId")
                if key in seen and not self.temporal:
                    raise BadRequestData("two instances of one attribute share a datasetId")
                seen.add(key)
            return found
        return [self.instance(iri, raw)]

    def instance(self, iri: str, raw: Any) -> dict[str, Any]:
        if self.key_values:
            return self._simplified(iri, raw)
        if raw is None:
            raise BadRequestData('an attribute cannot be null (NGSI-LD null is "urn:ngsi-ld:null")')
        if not isinstance(raw, dict):
            return self._simplified(iri, raw)
        atype = raw.get("type")
        if atype is None:
            atype = _infer_type(raw, iri)
            if atype is None:
                return self._simplified(iri, raw)
        if atype not in ATTRIBUTE_TYPES:
            if is_geometry(raw):
                return {"type": "GeoProperty", "value": raw}
            raise BadRequestData(f"unknown attribute type {atype!r}")
        key = VALUE_KEY[atype]
        inst: dict[str, Any] = {"type": atype}
        if key in raw:
            inst[key] = self._check_value(atype, raw[key])
        elif not self.partial:
            raise BadRequestData(f"a {atype} needs a '{key}' member")
        for meta in ("observedAt", "unitCode", "datasetId", "objectType", "lang"):
            if meta in raw:
                inst[meta] = self._meta(meta, raw[meta])
        subs: dict[str, dict[str, Any]] = {}
        for name, value in raw.items():
            if name in META_KEYS:
                continue
            sub_iri = self.attr_name(name)
            subs[sub_iri] = self.instance(sub_iri, value)
        if subs:
            inst["sub"] = subs
        return inst

    def _simplified(self, iri: str, raw: Any) -> dict[str, Any]:
        if raw is None:
            raise BadRequestData('an attribute value cannot be null (NGSI-LD null is "urn:ngsi-ld:null")')
        if iri in GEO_IRIS and is_geometry(raw):
            return {"type": "GeoProperty", "value": raw}
        if iri in GEO_IRIS and isinstance(raw, dict) and "coordinates" in raw:
            raise BadRequestData(geometry_problem(raw) or "invalid geometry")
        return {"type": "Property", "value": raw}

    def _check_value(self, atype: str, value: Any) -> Any:
        if value is None:
            raise BadRequestData(f"the value of a {atype} cannot be null")
        if value == NULL_URI:
            return value
        if atype == "GeoProperty":
            problem = geometry_problem(value)
            if problem:
                raise BadRequestData(problem)
        elif atype == "Relationship":
            targets = value if isinstance(value, list) else [value]
            if not targets or not all(is_uri(t) for t in targets):
                raise BadRequestData("a Relationship's object must be a URI")
        elif atype == "ListRelationship":
            items = value if isinstance(value, list) else [value]
            for item in items:
                target = item.get("object") if isinstance(item, dict) else item
                if not is_uri(target):
                    raise BadRequestData("a ListRelationship's objects must be URIs")
        elif atype == "LanguageProperty":
            if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, (str, list)) for k, v in value.items()
            ):
                raise BadRequestData("a languageMap maps language tags to strings")
        elif atype == "VocabProperty":
            words = value if isinstance(value, list) else [value]
            if not words or not all(isinstance(w, str) for w in words):
                raise BadRequestData("a VocabProperty's vocab must be strings")
            expanded = [self.ctx.expand(w) for w in words]
            return expanded if isinstance(value, list) else expanded[0]
        elif atype == "ListProperty":
            if not isinstance(value, list):
                raise BadRequestData("a ListProperty's valueList must be an array")
        elif atype == "Property" and isinstance(value, dict) and "@value" not in value and "@type" in value:
            raise BadRequestData("invalid typed value")
        return value

    def _meta(self, name: str, value: Any) -> Any:
        if name == "observedAt":
            if not is_datetime(value):
                raise BadRequestData(f"observedAt {value!r} is not an ISO 8601 date-time")
            return normalize_datetime(value)
        if name == "datasetId":
            if not is_uri(value):
                raise BadRequestData(f"datasetId {value!r} is not a URI")
            return value
        if name == "unitCode" and not isinstance(value, str):
            raise BadRequestData("unitCode must be a string")
        if name == "objectType":
            names = value if isinstance(value, list) else [value]
            return [self.ctx.expand(n) for n in names] if isinstance(value, list) else self.ctx.expand(value)
        return value


def _has_value_key(raw: dict[str, Any]) -> bool:
    return any(key in raw for key, _ in _INFER_ORDER)


def _infer_type(raw: dict[str, Any], iri: str) -> str | None:
    """The attribute type of a concise attribute, or None for a bare compound value."""
    for key, atype in _INFER_ORDER:
        if key in raw:
            if atype == "Property" and (iri in GEO_IRIS and is_geometry(raw["value"])):
                return "GeoProperty"
            return atype
    return None
