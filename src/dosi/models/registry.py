"""The data-model registry: each entity type Dosi knows, described once.

A model gives its type's @context terms, a JSON Schema of the simplified (key-values) form, units
(UN/CEFACT codes), Korean and English descriptions, and a privacy label per attribute. The starter
set ships in `builtin/`; more are registered at run time (kept in the store, shared by every worker).
Entities are checked in the hub's expanded form: attributes are matched by the model's IRIs, or by
the default-context IRI of the model's term (a client that sent no model @context).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from typing import Any

import fastjsonschema
import orjson

from dosi.ngsild.context import DEFAULT_CORE_URL, DEFAULT_VOCAB, core_active

KINDS = ("Property", "GeoProperty", "Relationship", "LanguageProperty")
PRIVACY = ("direct-id", "quasi-id", "sensitive", "non-personal")
VALUE_KEYS = {"Property": "value", "GeoProperty": "value", "Relationship": "object", "LanguageProperty": "languageMap"}


class ModelError(ValueError):
    """A model document that cannot be registered."""


@dataclass(frozen=True)
class AttributeSpec:
    name: str
    uri: str
    kind: str
    schema: dict[str, Any]
    privacy: str
    description: dict[str, str]
    unit_code: str | None = None


@dataclass(frozen=True)
class DataModel:
    type: str
    uri: str
    domain: str
    title: dict[str, str]
    description: dict[str, str]
    attributes: dict[str, AttributeSpec]
    required: tuple[str, ...] = ()
    builtin: bool = False
    doc: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_doc(cls, doc: Any, builtin: bool = False) -> DataModel:
        """Reads and checks a model document (the shape of the files in `builtin/`)."""
        if not isinstance(doc, dict):
            raise ModelError("a data model is a JSON object / 데이터 모델은 JSON 객체여야 합니다")
        try:
            attributes = {name: _attribute(name, spec) for name, spec in dict(doc["attributes"]).items()}
            model = cls(
                type=_text(doc, "type"),
                uri=_text(doc, "uri"),
                domain=str(doc.get("domain", "")),
                title=_bilingual(doc, "title"),
                description=_bilingual(doc, "description"),
                attributes=attributes,
                required=tuple(doc.get("required", ())),
                builtin=builtin,
                doc=doc,
            )
        except (KeyError, TypeError, ValueError) as err:
            if isinstance(err, ModelError):
                raise
            raise ModelError(f"data model is missing or mistypes {err} / 데이터 모델 항목 오류: {err}") from None
        unknown = [name for name in model.required if not isinstance(name, str) or name not in attributes]
        if unknown:
            raise ModelError(f"required attributes are not described: {unknown}")
        outside = _outside_refs(doc["attributes"])
        if outside:  # a schema compiler would fetch them: files or URLs the hub must never read for a client
            raise ModelError(f"only local $ref (#/...) are allowed in a model's schemas: {outside[0]}")
        try:
            model.validate  # noqa: B018 - compiles the schema now, so a bad one is refused at registration
        except (fastjsonschema.JsonSchemaDefinitionException, re.error, ValueError, TypeError) as err:
            raise ModelError(f"invalid JSON Schema in model {model.type}: {err}") from None
        return model

    def context(self) -> dict[str, str]:
        """The model's @context terms: its type and attributes (not those the NGSI-LD core defines)."""
        core = core_active().terms
        return {self.type: self.uri, **{a.name: a.uri for a in self.attributes.values() if a.name not in core}}

    def json_schema(self) -> dict[str, Any]:
        """JSON Schema (draft-07) of the key-values form, with each attribute's unit, privacy label and texts."""
        properties: dict[str, Any] = {
            "id": {"type": "string", "format": "uri"},
            "type": {"const": self.type},
        }
        for spec in self.attributes.values():
            annotated = {**spec.schema, "description": spec.description.get("en", ""), "x-ngsi-ld-kind": spec.kind}
            annotated["x-description-ko"] = spec.description.get("ko", "")
            annotated["x-privacy"] = spec.privacy
            if spec.unit_code:
                annotated["x-unitCode"] = spec.unit_code
            properties[spec.name] = annotated
        return {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "$id": self.uri,
            "title": self.title.get("en", self.type),
            "description": self.description.get("en", ""),
            "type": "object",
            "required": ["id", "type", *self.required],
            "properties": properties,
        }

    @cached_property
    def validate(self) -> Any:
        return fastjsonschema.compile(self.json_schema(), formats={"uri": r"^\S+:\S*$"})

    @cached_property
    def by_iri(self) -> dict[str, AttributeSpec]:
        found = {DEFAULT_VOCAB + a.name: a for a in self.attributes.values()}
        found.update({a.uri: a for a in self.attributes.values()})
        return found

    def problems(self, entity: dict[str, Any]) -> list[str]:
        """What keeps an entity (the hub's expanded form) from fitting this model; [] when it fits."""
        simplified: dict[str, Any] = {"id": entity["id"], "type": self.type}
        found: list[str] = []
        for iri, instances in entity.get("attrs", {}).items():
            spec = self.by_iri.get(iri)
            if spec is None or not instances:
                continue  # attributes the model does not describe are allowed
            first = instances[0]
            if first.get("type") != spec.kind:
                found.append(f"{spec.name}: expected a {spec.kind}, got a {first.get('type')}")
                continue
            given_unit = first.get("unitCode")
            if spec.unit_code and given_unit and given_unit != spec.unit_code:
                found.append(f"{spec.name}: unitCode {given_unit} where the model uses {spec.unit_code}")
            simplified[spec.name] = first.get(VALUE_KEYS[spec.kind])
        try:
            self.validate(simplified)
        except fastjsonschema.JsonSchemaValueException as err:
            found.append(str(err.message).replace("data.", "", 1).replace("data ", "entity ", 1))
        return found

    def summary(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "uri": self.uri,
            "domain": self.domain,
            "title": self.title,
            "description": self.description,
            "builtin": self.builtin,
            "attributes": {
                a.name: {
                    "uri": a.uri,
                    "kind": a.kind,
                    "unitCode": a.unit_code,
                    "privacy": a.privacy,
                    "description": a.description,
                }
                for a in self.attributes.values()
            },
        }


def _outside_refs(value: Any) -> list[str]:
    """Every $ref that does not point inside the schema itself."""
    if isinstance(value, dict):
        found = [str(v) for k, v in value.items() if k == "$ref" and not str(v).startswith("#")]
        return found + [ref for v in value.values() for ref in _outside_refs(v)]
    if isinstance(value, list):
        return [ref for v in value for ref in _outside_refs(v)]
    return []


def _text(doc: dict[str, Any], key: str) -> str:
    value = doc[key]
    if not isinstance(value, str) or not value:
        raise TypeError(key)
    return value


def _bilingual(doc: dict[str, Any], key: str) -> dict[str, str]:
    value = doc.get(key) or {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise TypeError(key)
    return dict(value)


def _effective_uri(name: str, uri: str) -> str:
    """The IRI a term really expands to: the NGSI-LD core context comes last and wins (e.g. `status`)."""
    core = core_active().terms.get(name)
    return core.iri if core is not None else uri


def _attribute(name: str, spec: Any) -> AttributeSpec:
    if not isinstance(spec, dict):
        raise TypeError(f"attributes.{name}")
    kind = spec.get("kind", "Property")
    privacy = spec.get("privacy", "non-personal")
    if kind not in KINDS:
        raise ModelError(f"attribute {name}: kind must be one of {', '.join(KINDS)}")
    if privacy not in PRIVACY:
        raise ModelError(f"attribute {name}: privacy must be one of {', '.join(PRIVACY)}")
    schema = spec.get("schema", {})
    if not isinstance(schema, dict):
        raise TypeError(f"attributes.{name}.schema")
    return AttributeSpec(
        name=name,
        uri=_effective_uri(name, str(spec.get("uri") or DEFAULT_VOCAB + name)),
        kind=kind,
        schema=schema,
        privacy=privacy,
        description=_bilingual(spec, "description"),
        unit_code=spec.get("unitCode"),
    )


def builtin_models() -> list[DataModel]:
    folder = resources.files("dosi.models").joinpath("builtin")
    return [
        DataModel.from_doc(orjson.loads(item.read_bytes()), builtin=True)
        for item in sorted(folder.iterdir(), key=lambda f: f.name)
        if item.name.endswith(".json")
    ]


class ModelRegistry:
    """The models in force: the built-in set, overlaid by those registered at run time."""

    def __init__(self, models: list[DataModel] | None = None):
        self._by_name: dict[str, DataModel] = {}
        self._by_iri: dict[str, DataModel] = {}
        for model in builtin_models() if models is None else models:
            self.add(model)

    def add(self, model: DataModel) -> None:
        self._by_name[model.type] = model
        self._by_iri[model.uri] = model
        self._by_iri[DEFAULT_VOCAB + model.type] = model

    def get(self, name_or_iri: str) -> DataModel | None:
        return self._by_name.get(name_or_iri) or self._by_iri.get(name_or_iri)

    def all(self) -> list[DataModel]:
        return sorted(self._by_name.values(), key=lambda m: m.type)

    def context_document(self, name: str) -> dict[str, Any] | None:
        """The JSON-LD context document of a model (its terms, then the NGSI-LD core)."""
        model = self.get(name)
        return None if model is None else {"@context": [model.context(), DEFAULT_CORE_URL]}

    def model_of(self, entity: dict[str, Any]) -> DataModel | None:
        for type_iri in entity.get("type", []):
            model = self._by_iri.get(type_iri)
            if model is not None:
                return model
        return None

    def problems(self, entity: dict[str, Any]) -> list[str]:
        """What keeps an entity from fitting its type's model ([] when it fits or has no model)."""
        model = self.model_of(entity)
        return [] if model is None else model.problems(entity)
