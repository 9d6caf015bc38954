"""Batch entity operations: create, upsert, update, merge, delete.

Each entity succeeds or fails on its own (its error is reported, nothing of it is
written); the successful ones commit together in one transaction.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from dosi.errors import (
    AlreadyExists,
    BadRequestData,
    CreatedConcurrently,
    DosiError,
    Forbidden,
    ModelViolation,
    ResourceNotFound,
)
from dosi.ngsild.context import ActiveContext
from dosi.ngsild.model import is_uri, now_iso
from dosi.ngsild.parse import Parser
from dosi.service import merge as rules
from dosi.service.entities import EntityService, UpdateResult
from dosi.service.notify import Notifier
from dosi.store.base import Entity, EntityStore

# one batch item: the raw entity and its active context, or the error found while resolving it
Item = tuple[Any, ActiveContext | DosiError]


UPSERT_ATTEMPTS = 3


@dataclass
class BatchResult:
    success: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    _succeeded: set[str] = field(default_factory=set, repr=False)  # success as a set: a batch holds thousands

    def fail(self, entity_id: Any, error: DosiError) -> None:
        self.errors.append({"entityId": entity_id if isinstance(entity_id, str) else None, "error": error.problem()})

    def ok(self, entity_id: str) -> None:
        if entity_id not in self._succeeded:
            self._succeeded.add(entity_id)
            self.success.append(entity_id)

    def body(self) -> dict[str, Any]:
        return {"success": self.success, "errors": self.errors}


def _raw_id(body: Any) -> Any:
    return body.get("id") if isinstance(body, dict) else None


class BatchService:
    def __init__(self, store: EntityStore, notifier: Notifier):
        self.store = store
        self.notifier = notifier

    def _parse(
        self, items: list[Item], now: str, result: BatchResult, require_type: bool = True, allow_null: bool = False
    ) -> list[Entity]:
        parsed = []
        for body, ctx in items:
            if isinstance(ctx, DosiError):
                result.fail(_raw_id(body), ctx)
                continue
            try:
                parsed.append(Parser(ctx, now, allow_null=allow_null).entity(body, require_type=require_type))
            except DosiError as err:
                result.fail(_raw_id(body), err)
        return parsed

    async def create(self, tenant: str, items: list[Item]) -> BatchResult:
        result = BatchResult()
        now = now_iso()
        entities = self._parse(items, now, result)
        async with self.notifier.write(tenant) as tx:
            await tx.prefetch([e["id"] for e in entities])
            for entity in entities:
                rules.stamp_entity(entity, now)
                with _refused(result, entity["id"]):
                    if await tx.insert(entity):
                        result.ok(entity["id"])
                    else:
                        result.fail(entity["id"], AlreadyExists(f"entity {entity['id']} already exists"))
        return result

    async def upsert(self, tenant: str, items: list[Item], replace: bool = True) -> BatchResult:
        """When a concurrent writer creates one of the entities first, the whole upsert runs again: it then finds
        it and updates it."""
        parsed = BatchResult()
        now = now_iso()
        entities = self._parse(items, now, parsed)
        for attempt in range(UPSERT_ATTEMPTS):
            result = copy.deepcopy(parsed)
            try:
                return await self._upsert(tenant, entities, now, result, replace)
            except CreatedConcurrently:
                if attempt == UPSERT_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    async def _upsert(
        self, tenant: str, entities: list[Entity], now: str, result: BatchResult, replace: bool
    ) -> BatchResult:
        async with self.notifier.write(tenant) as tx:
            await tx.prefetch([e["id"] for e in entities])
            for entity in entities:
                with _refused(result, entity["id"]):
                    if await tx.insert(_stamped(entity, now)):
                        result.ok(entity["id"])
                        result.created.append(entity["id"])  # an id is inserted once: a repeat finds it held
                        continue
                    old = await tx.get(entity["id"])
                    assert old is not None
                    if replace:
                        entity["createdAt"] = old["createdAt"]
                        await tx.replace(entity)
                    else:
                        rules.add_to(old, entity, now)
                        await tx.replace(old)
                    result.ok(entity["id"])
        return result

    async def update(self, tenant: str, items: list[Item], overwrite: bool = True) -> BatchResult:
        result = BatchResult()
        now = now_iso()
        entities = self._parse(items, now, result, require_type=False)
        async with self.notifier.write(tenant) as tx:
            await tx.prefetch([e["id"] for e in entities])
            for patch in entities:
                entity = await tx.get(patch["id"])
                if entity is None:
                    result.fail(patch["id"], ResourceNotFound(f"entity {patch['id']} not found"))
                    continue
                EntityService._add_types(entity, patch)
                if "scope" in patch:
                    entity["scope"] = patch["scope"]
                update = UpdateResult()
                EntityService._append_attrs(entity, patch, now, overwrite, update)
                entity["modifiedAt"] = now
                with _refused(result, patch["id"]):
                    await tx.replace(entity)
                    result.ok(patch["id"])
                if update.not_updated and patch["id"] in result.success:
                    result.success.remove(patch["id"])
                    names = ", ".join(n["attributeName"] for n in update.not_updated)
                    result.fail(patch["id"], BadRequestData(f"not overwritten (noOverwrite): {names}"))
        return result

    async def merge(self, tenant: str, items: list[Item]) -> BatchResult:
        result = BatchResult()
        now = now_iso()
        entities = self._parse(items, now, result, require_type=False, allow_null=True)
        async with self.notifier.write(tenant) as tx:
            await tx.prefetch([e["id"] for e in entities])
            for patch in entities:
                entity = await tx.get(patch["id"])
                if entity is None:
                    result.fail(patch["id"], ResourceNotFound(f"entity {patch['id']} not found"))
                    continue
                EntityService._merge_into(entity, patch, now)
                with _refused(result, patch["id"]):
                    await tx.replace(entity)
                    result.ok(patch["id"])
        return result

    async def delete(self, tenant: str, ids: list[Any]) -> BatchResult:
        result = BatchResult()
        async with self.notifier.write(tenant) as tx:
            for entity_id in ids:
                if not is_uri(entity_id):
                    result.fail(entity_id, BadRequestData(f"{entity_id!r} is not a valid entity id"))
                    continue
                with _refused(result, entity_id):
                    if await tx.delete(entity_id):
                        result.success.append(entity_id)
                    else:
                        result.fail(entity_id, ResourceNotFound(f"entity {entity_id} not found"))
        return result


@contextmanager
def _refused(result: BatchResult, entity_id: str) -> Iterator[None]:
    """An entity its data model refuses, or the request may not write, fails on its own; the rest goes on."""
    try:
        yield
    except (ModelViolation, Forbidden) as err:
        result.fail(entity_id, err)


def _stamped(entity: Entity, now: str) -> Entity:
    rules.stamp_entity(entity, now)
    return entity
