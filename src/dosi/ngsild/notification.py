"""What a change to one entity owes each subscription: matching and the notification's data.

Pure: the service gives the entity before and after the write, the subscription (stored,
expanded) and the active @context to render with.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from dosi.errors import DosiError
from dosi.ngsild import evaluate
from dosi.ngsild.context import ActiveContext
from dosi.ngsild.model import NULL_URI, VALUE_KEY
from dosi.ngsild.query import expand_q, parse_geo_query, parse_q, parse_scope_query, parse_type_expression
from dosi.ngsild.render import CONCISE, NORMALIZED, SIMPLIFIED, Renderer, View

PREVIOUS_KEY = {
    "Property": "previousValue",
    "GeoProperty": "previousValue",
    "Relationship": "previousObject",
    "LanguageProperty": "previousLanguageMap",
    "VocabProperty": "previousVocab",
    "JsonProperty": "previousJson",
    "ListProperty": "previousValueList",
    "ListRelationship": "previousObjectList",
}
_FORMS = {"normalized": NORMALIZED, "concise": CONCISE, "keyValues": SIMPLIFIED, "simplified": SIMPLIFIED}


@dataclass
class Change:
    """One committed change of one entity."""

    before: dict[str, Any] | None
    after: dict[str, Any] | None
    now: str
    created: set[str] = field(default_factory=set)  # attribute IRIs
    updated: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)
    deleted_instances: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def between(cls, before: dict[str, Any] | None, after: dict[str, Any] | None, now: str) -> Change:
        change = cls(before, after, now)
        old = (before or {}).get("attrs", {})
        new = (after or {}).get("attrs", {})
        for iri in set(old) | set(new):
            if iri not in new:
                change.deleted.add(iri)
                change.deleted_instances[iri] = old[iri]
            elif iri not in old:
                change.created.add(iri)
            elif old[iri] != new[iri]:  # (an attribute left as it was is most of an update's)
                olds = {inst.get("datasetId"): inst for inst in old[iri]}
                if any(inst != olds.get(inst.get("datasetId")) for inst in new[iri]):
                    change.updated.add(iri)  # rewritten (new modifiedAt) or changed
                kept = {inst.get("datasetId") for inst in new[iri]}
                gone = [inst for inst in old[iri] if inst.get("datasetId") not in kept]
                if gone:
                    change.deleted.add(iri)
                    change.deleted_instances[iri] = gone
        return change

    @property
    def entity(self) -> dict[str, Any]:
        found = self.after if self.after is not None else self.before
        assert found is not None
        return found

    def kinds(self) -> dict[str, set[str]]:
        """Trigger name -> the attributes it concerns (entity triggers concern every changed attribute)."""
        changed = self.created | self.updated | self.deleted
        kinds: dict[str, set[str]] = {}
        if self.before is None:
            kinds["entityCreated"] = changed
        elif self.after is None:
            kinds["entityDeleted"] = changed
        elif (
            changed
            or self.before.get("type") != self.after.get("type")
            or (self.before.get("scope") != self.after.get("scope"))
        ):
            kinds["entityUpdated"] = changed
        for name, attrs in (
            ("attributeCreated", self.created),
            ("attributeUpdated", self.updated),
            ("attributeDeleted", self.deleted),
        ):
            if attrs:
                kinds[name] = attrs
        return kinds


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def is_live(sub: dict[str, Any], now: str) -> bool:
    if not sub.get("isActive", True):
        return False
    return not ("expiresAt" in sub and _time(sub["expiresAt"]) <= _time(now))


def matches_entity(sub: dict[str, Any], entity: dict[str, Any], ctx: ActiveContext) -> bool:
    """The subscription's entity selectors, q, geoQ and scopeQ hold for `entity`."""
    selectors = sub.get("entities")
    if selectors:
        for selector in selectors:
            if not evaluate.matches_types(entity, parse_type_expression(selector["type"])):
                continue
            if "id" in selector and selector["id"] != entity["id"]:
                continue
            if "idPattern" in selector and not evaluate.matches_id_pattern(entity["id"], selector["idPattern"]):
                continue
            break
        else:
            return False
    try:
        if sub.get("q") and not evaluate.matches_q(entity, expand_q(parse_q(unquote(str(sub["q"]))), ctx)):
            return False
        if sub.get("scopeQ") and not evaluate.matches_scope(entity, parse_scope_query(str(sub["scopeQ"]))):
            return False
        geo_q = sub.get("geoQ")
        if geo_q:
            geo = parse_geo_query(
                geo_q.get("georel"), geo_q.get("geometry"), geo_q.get("coordinates"), geo_q.get("geoproperty")
            )
            if geo is not None:
                geo = type(geo)(
                    geo.georel, geo.geometry, ctx.expand(geo.geoproperty), geo.max_distance, geo.min_distance
                )
                if not evaluate.matches_geo(entity, geo):
                    return False
    except DosiError:
        return False
    return True


def owes(sub: dict[str, Any], change: Change, ctx: ActiveContext) -> bool:
    """Whether this change owes the subscription a notification."""
    if not is_live(sub, change.now) or "timeInterval" in sub:
        return False
    kinds = change.kinds()
    watched = set(sub.get("watchedAttributes") or [])
    fired = False
    for trigger in sub.get("notificationTrigger", ["attributeCreated", "attributeUpdated"]):
        if trigger not in kinds:
            continue
        if watched and trigger.startswith("attribute") and not (kinds[trigger] & watched):
            continue
        if watched and trigger == "entityUpdated" and not (kinds[trigger] & watched):
            continue
        fired = True
        break
    return fired and matches_entity(sub, change.entity, ctx)


def _null_instance(inst: dict[str, Any], now: str, plain_language: bool = False) -> dict[str, Any]:
    atype = inst.get("type", "Property")
    key = VALUE_KEY.get(atype, "value")
    value: Any = NULL_URI
    if atype == "LanguageProperty" and not plain_language:
        value = {"@none": NULL_URI}
    nulled = {"type": atype, key: value, "deletedAt": now}
    for meta in ("datasetId", "createdAt", "modifiedAt"):
        if meta in inst:
            nulled[meta] = inst[meta]
    return nulled


def _with_previous(inst: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    atype = old.get("type", "Property")
    key = VALUE_KEY.get(atype, "value")
    if key in old:
        return {**inst, PREVIOUS_KEY[atype]: old[key]}
    return inst


def notification_entity(sub: dict[str, Any], change: Change) -> dict[str, Any]:
    """The entity as the notification shows it (internal form), before projection and rendering."""
    notification = sub.get("notification", {})
    show_changes = bool(notification.get("showChanges"))
    triggers = set(sub.get("notificationTrigger", ["attributeCreated", "attributeUpdated"]))
    watched = set(sub.get("watchedAttributes") or [])
    if change.after is None:  # the entity was deleted
        before = change.before or {}
        shown: dict[str, Any] = {k: before[k] for k in ("id", "type", "createdAt", "modifiedAt") if k in before}
        shown["deletedAt"] = change.now
        attrs: dict[str, Any] = {}
        if show_changes:
            for iri, instances in before.get("attrs", {}).items():
                attrs[iri] = [_with_previous(_null_instance(i, change.now, plain_language=True), i) for i in instances]
        elif "attributeDeleted" in triggers and "entityDeleted" not in triggers:
            for iri, instances in before.get("attrs", {}).items():
                if not watched or iri in watched:
                    attrs[iri] = [_null_instance(i, change.now) for i in instances[:1]]
        shown["attrs"] = attrs
        return shown
    shown = copy.deepcopy(change.after)
    if change.before is not None and show_changes:
        old_attrs = change.before.get("attrs", {})
        for iri in change.updated:
            olds = {i.get("datasetId"): i for i in old_attrs.get(iri, [])}
            shown["attrs"][iri] = [
                _with_previous(inst, olds[inst.get("datasetId")]) if inst.get("datasetId") in olds else inst
                for inst in shown["attrs"][iri]
            ]
    for iri, gone in change.deleted_instances.items():
        if iri not in shown["attrs"]:
            # every instance went: one null stands for the attribute
            nulled = _null_instance(gone[0], change.now)
            nulled.pop("datasetId", None)
            shown["attrs"][iri] = [_with_previous(nulled, gone[0]) if show_changes else nulled]
        else:
            shown["attrs"][iri] = shown["attrs"][iri] + [
                _with_previous(_null_instance(i, change.now), i) if show_changes else _null_instance(i, change.now)
                for i in gone
            ]
    return shown


def view_of(sub: dict[str, Any]) -> View:
    notification = sub.get("notification", {})
    view = View(
        form=_FORMS.get(notification.get("format", "normalized"), NORMALIZED),
        sys_attrs=bool(notification.get("sysAttrs")),
        lang=sub.get("lang") or notification.get("lang"),
        dataset_ids=frozenset(sub["datasetId"]) if sub.get("datasetId") else None,
        join=notification.get("join") if notification.get("join") in ("inline", "flat") else None,
        join_level=int(notification.get("joinLevel", 1) or 1),
        dataset_form=True,
    )
    if notification.get("attributes"):
        view.attrs = frozenset(notification["attributes"])
    if notification.get("pick"):
        pick = notification["pick"]
        view.pick_members = frozenset(n for n in pick if n in ("id", "type"))
        view.attrs = frozenset(n for n in pick if n not in ("id", "type"))
    if notification.get("omit"):
        view.omit = frozenset(notification["omit"])
    return view


def render_data(sub: dict[str, Any], entity: dict[str, Any], ctx: ActiveContext) -> dict[str, Any]:
    return Renderer(ctx, view_of(sub)).entity(entity)
