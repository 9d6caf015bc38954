"""Pure rules for changing a stored entity: append, update, merge, replace, delete instances.

Every function takes the stored (expanded) entity and returns nothing: it changes it
in place. The service runs them inside a store transaction.
"""

from __future__ import annotations

from typing import Any

from dosi.errors import ResourceNotFound
from dosi.ngsild.model import NULL_URI, VALUE_KEY

Instance = dict[str, Any]


def is_null(inst: Instance) -> bool:
    """An NGSI-LD null: the attribute (or instance) is to be deleted."""
    key = VALUE_KEY.get(inst.get("type", "Property"), "value")
    value = inst.get(key)
    if value == NULL_URI:
        return True
    if inst.get("type") == "LanguageProperty" and isinstance(value, dict):
        return value.get("@none") == NULL_URI
    return inst.get("type") == "Property" and inst.get("object") == NULL_URI


def find(instances: list[Instance], dataset_id: str | None) -> int | None:
    for index, inst in enumerate(instances):
        if inst.get("datasetId") == dataset_id:
            return index
    return None


def stamp(inst: Instance, now: str, created: str | None = None) -> Instance:
    inst["createdAt"] = created or now
    inst["modifiedAt"] = now
    for sub in inst.get("sub", {}).values():
        stamp(sub, now, sub.get("createdAt"))
    return inst


def stamp_entity(entity: dict[str, Any], now: str) -> None:
    entity.setdefault("createdAt", now)
    entity["modifiedAt"] = now
    for instances in entity.get("attrs", {}).values():
        for inst in instances:
            stamp(inst, now)


def add_to(entity: dict[str, Any], given: dict[str, Any], now: str) -> None:
    """An upsert that keeps what `given` does not name: its types are added, its scope and its attribute instances
    (by datasetId) replace the held ones."""
    for type_iri in given["type"]:
        if type_iri not in entity["type"]:
            entity["type"].append(type_iri)
    if "scope" in given:
        entity["scope"] = given["scope"]
    for iri, instances in given["attrs"].items():
        for inst in instances:
            put_instance(entity, iri, inst, now)
    entity["modifiedAt"] = now


def put_instance(entity: dict[str, Any], iri: str, inst: Instance, now: str, overwrite: bool = True) -> bool:
    """Add or overwrite the instance with the same datasetId. False when it existed and overwrite is off."""
    instances = entity["attrs"].setdefault(iri, [])
    index = find(instances, inst.get("datasetId"))
    if index is None:
        instances.append(stamp(inst, now))
        return True
    if not overwrite:
        return False
    instances[index] = stamp(inst, now, instances[index].get("createdAt"))
    return True


def delete_instance(entity: dict[str, Any], iri: str, dataset_id: str | None, delete_all: bool = False) -> None:
    instances = entity["attrs"].get(iri)
    if not instances:
        raise ResourceNotFound("the entity has no such attribute")
    if delete_all:
        del entity["attrs"][iri]
        return
    index = find(instances, dataset_id)
    if index is None:
        raise ResourceNotFound("the attribute has no instance with that datasetId")
    instances.pop(index)
    if not instances:
        del entity["attrs"][iri]


def merge_instance(old: Instance, new: Instance, now: str) -> Instance:
    """Merge-patch of one instance: members given replace, sub-attributes merge deeply."""
    merged = {k: v for k, v in old.items() if k != "sub"}
    if "type" in new and new["type"] != old.get("type"):
        for key in VALUE_KEY.values():
            merged.pop(key, None)
    for key, value in new.items():
        if key in ("sub", "createdAt", "modifiedAt"):
            continue
        merged[key] = value
    subs = dict(old.get("sub", {}))
    for sub_iri, sub in new.get("sub", {}).items():
        if is_null(sub):
            subs.pop(sub_iri, None)
        elif sub_iri in subs:
            subs[sub_iri] = merge_instance(subs[sub_iri], sub, now)
        else:
            subs[sub_iri] = stamp(sub, now)
    if subs:
        merged["sub"] = subs
    merged["createdAt"] = old.get("createdAt", now)
    merged["modifiedAt"] = now
    return merged


def merge_attribute(entity: dict[str, Any], iri: str, new_instances: list[Instance], now: str) -> None:
    """Merge-patch of an attribute (PATCH /entities/{id} and batch merge)."""
    for inst in new_instances:
        instances = entity["attrs"].get(iri, [])
        index = find(instances, inst.get("datasetId"))
        if is_null(inst):
            if index is not None:
                instances.pop(index)
                if not instances:
                    entity["attrs"].pop(iri, None)
            continue
        if index is None:
            entity["attrs"].setdefault(iri, []).append(stamp(inst, now))
        else:
            instances[index] = merge_instance(instances[index], inst, now)


def partial_update(entity: dict[str, Any], iri: str, fragment: Instance, now: str) -> None:
    """PATCH /entities/{id}/attrs/{attr}: change one existing instance."""
    instances = entity["attrs"].get(iri)
    if not instances:
        raise ResourceNotFound("the entity has no such attribute")
    index = find(instances, fragment.get("datasetId"))
    if index is None:
        raise ResourceNotFound("the attribute has no instance with that datasetId")
    old = instances[index]
    if is_null(fragment):
        instances.pop(index)
        if not instances:
            del entity["attrs"][iri]
        return
    instances[index] = merge_instance(old, fragment, now)


def replace_attribute(entity: dict[str, Any], iri: str, new_instances: list[Instance], now: str) -> None:
    """PUT /entities/{id}/attrs/{attr}: the instances with those datasetIds are replaced."""
    instances = entity["attrs"].get(iri)
    if not instances:
        raise ResourceNotFound("the entity has no such attribute")
    for inst in new_instances:
        index = find(instances, inst.get("datasetId"))
        if index is None:
            raise ResourceNotFound("the attribute has no instance with that datasetId")
        instances[index] = stamp(inst, now, instances[index].get("createdAt"))
