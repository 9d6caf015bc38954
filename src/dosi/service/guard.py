"""Writes checked against the request's access: every entity a transaction writes, entity by entity.

Each check runs before its write, so a refused entity leaves nothing behind; a batch reports it as its own
error (403) and goes on with the others.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson

from dosi.errors import Forbidden
from dosi.ngsild.model import SCOPE
from dosi.security.context import current
from dosi.security.policy import Access
from dosi.store.base import (
    Entity,
    EntityQuery,
    EntityStore,
    HistoryRow,
    OutboxRow,
    WriteTransaction,
    create_by_insert,
)


def changed_attributes(before: Entity, after: Entity) -> list[str]:
    old, new = before.get("attrs", {}), after.get("attrs", {})
    return [name for name in set(old) | set(new) if old.get(name) != new.get(name)]


def refuse(action: str, entity_id: str) -> Forbidden:
    return Forbidden(f"you may not {action} {entity_id} / {entity_id}에 대한 {action} 권한이 없습니다")


class Guarded:
    """A write transaction that lets through only what `access` permits."""

    def __init__(self, tx: WriteTransaction, access: Access):
        self.tx = tx
        self.access = access
        self._before: dict[str, Entity | None] = {}  # each entity as first read, before the caller edits it

    def _check(self, action: str, entity: Entity, changed: list[str] | None = None) -> None:
        if not self.access.permits(action, entity, changed):
            raise refuse(action, str(entity.get("id")))

    async def prefetch(self, entity_ids: list[str]) -> None:
        await self.tx.prefetch(entity_ids)

    async def get(self, entity_id: str) -> Entity | None:
        found = await self.tx.get(entity_id)
        if entity_id not in self._before:
            self._before[entity_id] = None if found is None else orjson.loads(orjson.dumps(found))
        return found

    async def _stored(self, entity_id: str) -> Entity | None:
        if entity_id not in self._before:
            await self.get(entity_id)
        return self._before[entity_id]

    async def insert(self, entity: Entity) -> bool:
        if await self._stored(entity["id"]) is None:
            self._check("create", entity)
        inserted = await self.tx.insert(entity)
        if inserted:
            self._before[entity["id"]] = orjson.loads(orjson.dumps(entity))
        return inserted

    async def create(self, entity: Entity) -> None:
        await create_by_insert(self, entity)

    async def replace(self, entity: Entity) -> None:
        before = await self._stored(entity["id"])
        if before is None:
            self._check("create", entity)
        else:
            changed = changed_attributes(before, entity)
            self._check("update", before, changed)
            self._check("update", entity, changed)
        await self.tx.replace(entity)
        self._before[entity["id"]] = orjson.loads(orjson.dumps(entity))

    async def delete(self, entity_id: str) -> bool:
        before = await self._stored(entity_id)
        if before is not None:
            self._check("delete", before)
        deleted = await self.tx.delete(entity_id)
        self._before[entity_id] = None
        return deleted

    async def delete_matching(self, query: EntityQuery) -> int:
        if self.access.any_attributes("delete") is not None:
            raise Forbidden("you may delete only some attributes: purge whole entities is not yours / 권한 부족")
        query.fence = self.access.fence("delete")
        return await self.tx.delete_matching(query)

    async def subscriptions(self) -> list[dict[str, Any]]:
        return await self.tx.subscriptions()

    async def add_outbox(self, rows: list[OutboxRow]) -> None:
        await self.tx.add_outbox(rows)

    async def flush(self, last: bool = False) -> bool:
        return await self.tx.flush(last)

    async def _entity_of(self, entity_id: str, types: list[str]) -> Entity:
        """The entity a history write belongs to, as the checks see it (its types, scope and attributes)."""
        found = await self._stored(entity_id)
        entity = dict(found) if found is not None else {"id": entity_id, "type": [], "attrs": {}}
        entity["type"] = list(dict.fromkeys([*entity.get("type", []), *types]))
        return entity

    async def add_history(self, rows: list[HistoryRow], upsert: bool = False) -> None:
        touched: dict[str, tuple[list[str], set[str]]] = {}
        scopes: dict[str, Any] = {}  # scope instances written with the history (temporal provision)
        for row in rows:
            types, attrs = touched.setdefault(row.entity_id, ([], set()))
            types.extend(t for t in row.types if t not in types)
            if row.attr == SCOPE:
                scopes[row.entity_id] = row.doc.get("value")
            else:
                attrs.add(row.attr)
        for entity_id, (types, attrs) in touched.items():
            entity = await self._entity_of(entity_id, types)
            if entity_id in scopes:
                entity["scope"] = scopes[entity_id]
            action = "update" if entity.get("attrs") else "create"
            self._check(action, entity, sorted(attrs))
        await self.tx.add_history(rows, upsert)

    async def delete_history(
        self,
        entity_id: str,
        attr: str | None = None,
        dataset_id: str | None = None,
        every_dataset: bool = True,
        instance_id: str | None = None,
    ) -> int:
        entity = await self._entity_of(entity_id, [])
        self._check("delete", entity, [attr] if attr is not None else None)
        return await self.tx.delete_history(entity_id, attr, dataset_id, every_dataset, instance_id)

    async def replace_history_instance(self, row: HistoryRow) -> bool:
        self._check("update", await self._entity_of(row.entity_id, row.types), [row.attr])
        return await self.tx.replace_history_instance(row)


def guard(tx: WriteTransaction, access: Access | None = None) -> WriteTransaction:
    """The transaction, checked against `access` (the current request's) when it is limited."""
    access = access or current()
    if all(access.unlimited(a) for a in ("create", "update", "delete")):
        return tx
    return Guarded(tx, access)


@asynccontextmanager
async def guarded(store: EntityStore, tenant: str) -> AsyncIterator[WriteTransaction]:
    """The store's write transaction, checked against the current request's access."""
    async with store.transaction(tenant) as tx:
        yield guard(tx)
