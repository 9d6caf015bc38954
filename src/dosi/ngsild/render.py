"""Internal expanded entities -> what a client asked for: normalized, concise, simplified, GeoJSON."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from dosi.ngsild.context import ActiveContext
from dosi.ngsild.model import LOCATION, NULL_URI, SYSTEM_KEYS, VALUE_KEY

PREVIOUS_KEYS = (
    "previousValue",
    "previousObject",
    "previousLanguageMap",
    "previousVocab",
    "previousJson",
    "previousValueList",
    "previousObjectList",
)
# the members of a stored instance that a normalized rendering copies as they are (system members are dropped)
_PLAIN = frozenset({"type", "value", "object", "observedAt", "unitCode", "datasetId", "createdAt", "modifiedAt"})
# members of an instance that every representation but keyValues shows as they are
COPIED_META = ("observedAt", "unitCode", "datasetId")
NORMALIZED = "normalized"
CONCISE = "concise"
SIMPLIFIED = "keyValues"


@dataclass
class View:
    """How to render: the representation and the projections that apply to each entity."""

    form: str = NORMALIZED
    sys_attrs: bool = False
    attrs: frozenset[str] | None = None  # attribute IRIs to keep (attrs= or pick=)
    omit: frozenset[str] = frozenset()  # attribute IRIs and/or "id"/"type" to drop
    pick_members: frozenset[str] | None = None  # "id"/"type"/"scope" picked by pick=
    lang: str | None = None
    dataset_ids: frozenset[str] | None = None  # None: every instance; "@none" = default instance
    geometry_property: str = LOCATION
    join: str | None = None  # inline | flat
    join_level: int = 1
    dataset_form: bool = False  # simplified multi-instance attributes as {"dataset": {datasetId: value}}
    links: dict[str, View] = field(default_factory=dict)  # relationship IRI -> view of its target

    def link_default(self) -> View:
        """How a linked entity is shown when no nested pick/omit names it."""
        return replace(self, attrs=None, omit=frozenset(), pick_members=None, links={}, dataset_ids=None)


def _pick_lang(language_map: dict[str, Any], lang: str) -> tuple[str, Any]:
    wanted = [part.split(";")[0].strip() for part in lang.split(",") if part.strip()]
    for tag in wanted:
        if tag == "*" and language_map:
            first = sorted(k for k in language_map if k != "@none") or ["@none"]
            return first[0], language_map[first[0]]
        if tag in language_map:
            return tag, language_map[tag]
    if "@none" in language_map:
        return "@none", language_map["@none"]
    for tag, text in language_map.items():
        return str(tag), text
    return "@none", None


class Renderer:
    def __init__(self, ctx: ActiveContext, view: View):
        self.ctx = ctx
        self.view = view

    def entity(self, entity: dict[str, Any]) -> dict[str, Any]:
        view = self.view
        out: dict[str, Any] = {}
        members = view.pick_members
        if (members is None or "id" in members) and "id" not in view.omit:
            out["id"] = entity["id"]
        if (members is None or "type" in members) and "type" not in view.omit:
            types = [self.ctx.compact(t) for t in entity["type"]]
            out["type"] = types[0] if len(types) == 1 else types
        if "scope" in entity and (members is None or "scope" in members) and "scope" not in view.omit:
            scope = entity["scope"]
            out["scope"] = scope[0] if len(scope) == 1 else scope
        if view.sys_attrs:
            for key in ("createdAt", "modifiedAt"):
                if key in entity:
                    out[key] = entity[key]
        if "deletedAt" in entity:
            out["deletedAt"] = entity["deletedAt"]
        for iri, instances in entity.get("attrs", {}).items():
            if view.attrs is not None and iri not in view.attrs:
                continue
            if iri in view.omit:
                continue
            chosen = self._instances(instances)
            if not chosen:
                continue
            name = self.ctx.compact(iri)
            if view.dataset_form and view.form == SIMPLIFIED and len(chosen) > 1:
                out[name] = {"dataset": {i.get("datasetId", "@none"): self.attribute(i) for i in chosen}}
                continue
            out[name] = self.attribute(chosen[0]) if len(chosen) == 1 else [self.attribute(i) for i in chosen]
        return out

    def _instances(self, instances: list[dict[str, Any]]) -> list[dict[str, Any]]:
        wanted = self.view.dataset_ids
        if wanted is None:
            return instances
        return [i for i in instances if i.get("datasetId", "@none") in wanted]

    def attribute(self, inst: dict[str, Any]) -> Any:
        form = self.view.form
        if form == NORMALIZED and inst.keys() <= _PLAIN and not self.view.sys_attrs:
            return self._plain(inst)
        atype = inst.get("type", "Property")
        key = VALUE_KEY.get(atype, "value")
        value = inst.get(key)
        if atype == "VocabProperty":
            value = [self.ctx.compact(v) for v in value] if isinstance(value, list) else self.ctx.compact(str(value))
        lang_tag: str | None = None
        if atype == "LanguageProperty" and self.view.lang is not None and isinstance(value, dict):
            lang_tag, value = _pick_lang(value, self.view.lang)
            if lang_tag != "*":
                atype, key = "Property", "value"
        if form == SIMPLIFIED:
            if atype == "LanguageProperty" and self.view.lang is None:
                return {"languageMap": value}
            return value
        out: dict[str, Any] = {}
        if form == NORMALIZED or atype not in (
            "Property",
            "Relationship",
            "GeoProperty",
            "LanguageProperty",
            "VocabProperty",
            "JsonProperty",
            "ListProperty",
            "ListRelationship",
        ):
            out["type"] = atype
        out[key] = value
        if lang_tag is not None and lang_tag not in ("*", "@none"):
            out["lang"] = lang_tag
        for meta in COPIED_META:
            if meta in inst:
                out[meta] = inst[meta]
        for meta in PREVIOUS_KEYS:
            if meta in inst:
                previous = inst[meta]
                out[meta] = (
                    self.ctx.compact(previous) if meta == "previousVocab" and isinstance(previous, str) else previous
                )
        if "objectType" in inst:
            otype = inst["objectType"]
            out["objectType"] = (
                [self.ctx.compact(t) for t in otype] if isinstance(otype, list) else self.ctx.compact(str(otype))
            )
        if self.view.sys_attrs:
            for meta in SYSTEM_KEYS:
                if meta in inst:
                    out[meta] = inst[meta]
        for sub_iri, sub in inst.get("sub", {}).items():
            out[self.ctx.compact(sub_iri)] = self.attribute(sub)
        if form == CONCISE and atype in ("Property",) and list(out) == ["value"] and not isinstance(value, dict):
            return value
        return out

    @staticmethod
    def _plain(inst: dict[str, Any]) -> dict[str, Any]:
        """`attribute` of an instance with no member that needs more than copying, normalized (most of them)."""
        atype = inst.get("type", "Property")
        key = VALUE_KEY.get(atype, "value")
        out = {"type": atype, key: inst.get(key)}
        for meta in COPIED_META:
            if meta in inst:
                out[meta] = inst[meta]
        return out

    def feature(self, entity: dict[str, Any]) -> dict[str, Any]:
        """One entity as a GeoJSON Feature."""
        geo_iri = self.view.geometry_property
        geometry = None
        for inst in entity.get("attrs", {}).get(geo_iri, []):
            if inst.get("type") == "GeoProperty" and inst.get("value") != NULL_URI:
                geometry = inst["value"]
                break
        body = self.entity(entity)
        properties = {k: v for k, v in body.items() if k != "id"}
        return {"id": entity["id"], "type": "Feature", "geometry": geometry, "properties": properties}

    def many(self, entities: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        return [self.entity(e) for e in entities]
