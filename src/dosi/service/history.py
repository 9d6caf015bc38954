"""History rows: what each committed change adds to the temporal store."""

from __future__ import annotations

import itertools
import os
import uuid
from typing import Any

from dosi.ngsild import notification as changes
from dosi.ngsild import temporal as model
from dosi.ngsild.model import NULL_URI, SCOPE, VALUE_KEY
from dosi.store.base import HistoryRow

_PREFIX = str(uuid.uuid4())[:24]  # random per process: 8-4-4-4 groups of a version-4 UUID
_counter = itertools.count(int.from_bytes(os.urandom(5), "big"))


def new_instance_id() -> str:
    """A unique instance id shaped like a UUID: this process's random prefix and a counter (no syscall each)."""
    return f"urn:ngsi-ld:Instance:{_PREFIX}{next(_counter) % (1 << 48):012x}"


def ts_of(value: Any) -> float | None:
    return model.epoch(value) if isinstance(value, str) else None


def row_of(entity_id: str, types: list[str], attr: str, inst: dict[str, Any], now: str) -> HistoryRow:
    doc = dict(inst)
    doc["instanceId"] = inst.get("instanceId") or new_instance_id()
    if "createdAt" not in doc:
        doc["createdAt"] = now
    if "modifiedAt" not in doc:
        doc["modifiedAt"] = now
    value = doc.get(VALUE_KEY.get(doc.get("type", "Property"), "value"))
    number = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    return HistoryRow(
        entity_id,
        types,
        attr,
        doc["instanceId"],
        doc.get("datasetId"),
        ts_of(doc.get("observedAt")),
        model.epoch(doc["createdAt"]),
        model.epoch(doc["modifiedAt"]),
        ts_of(doc.get("deletedAt")),
        number,
        doc,
    )


def rows_of_change(change: changes.Change) -> list[HistoryRow]:
    """The instances a committed change adds to the history (deleted attributes get a deletion instance)."""
    if change.after is None:
        return []  # the store drops the history of a deleted entity
    entity = change.after
    old = (change.before or {}).get("attrs", {})
    rows = []
    for attr in change.created | change.updated:
        before = old.get(attr, [])
        for inst in entity["attrs"].get(attr, []):
            if inst not in before:
                rows.append(row_of(entity["id"], entity["type"], attr, inst, change.now))
    for attr, gone in change.deleted_instances.items():
        for inst in gone:
            atype = inst.get("type", "Property")
            value: Any = {"@none": NULL_URI} if atype == "LanguageProperty" else NULL_URI
            nulled = {"type": atype, VALUE_KEY.get(atype, "value"): value, "deletedAt": change.now}
            if "datasetId" in inst:
                nulled["datasetId"] = inst["datasetId"]
            rows.append(row_of(entity["id"], entity["type"], attr, nulled, change.now))
    scope = scope_instance(change.before, entity, change.now)
    if scope is not None:
        rows.append(row_of(entity["id"], entity["type"], SCOPE, scope, change.now))
    return rows


def scope_instance(before: dict[str, Any] | None, after: dict[str, Any], now: str) -> dict[str, Any] | None:
    """The history instance of a change of scope: the new scopes, or [] with deletedAt when they were removed."""
    old, new = (before or {}).get("scope"), after.get("scope")
    if old == new:
        return None
    if new is None:
        return {"type": "Property", "value": [], "deletedAt": now}
    return {"type": "Property", "value": list(new)}
