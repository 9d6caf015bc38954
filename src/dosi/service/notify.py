"""Writes that owe notifications: record each change, and put what it owes in the outbox
in the same transaction, so a committed change never loses its notifications.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson

from dosi.ngsild import notification as rules
from dosi.ngsild.context import DEFAULT_CORE_URL, ActiveContext
from dosi.ngsild.join import Joiner
from dosi.ngsild.model import now_iso
from dosi.ngsild.render import Renderer
from dosi.security.context import fenced
from dosi.security.policy import EVERYTHING, NOTHING, Access
from dosi.security.principal import Principal
from dosi.service.contexts import ContextService
from dosi.service.guard import guard
from dosi.service.history import rows_of_change
from dosi.service.links import linked_entities
from dosi.service.policies import PolicyService
from dosi.service.validation import Flag, Validation, flagged
from dosi.store.base import (
    Entity,
    EntityQuery,
    EntityStore,
    HistoryRow,
    OutboxRow,
    WriteTransaction,
    create_by_insert,
)


def context_url(sub: dict[str, Any]) -> str:
    """The @context URL a subscription's notifications are written with."""
    if sub.get("_jsonldContext"):
        return str(sub["_jsonldContext"])
    value = sub.get("_context")
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, str):
        return value
    return str(sub.get("jsonldContext") or DEFAULT_CORE_URL)


def _seen(access: Access, change: rules.Change) -> rules.Change | None:
    """The change as a reader with `access` sees it: None when it may not read the entity or when only hidden
    attributes changed; otherwise the change with the hidden attributes taken out."""
    if access.unlimited("read"):
        return change
    whole = change.after if change.after is not None else change.before
    if whole is None or not access.permits("read", whole, []):
        return None
    shown = access.attributes("read", whole)
    if shown is None:
        return change
    touched = change.created | change.updated | change.deleted
    if touched and not touched & shown:
        return None

    def hide(entity: Entity | None) -> Entity | None:
        return None if entity is None else {**entity, "attrs": {k: v for k, v in entity["attrs"].items() if k in shown}}

    return rules.Change.between(hide(change.before), hide(change.after), change.now)


def _snapshot(entity: Entity | None) -> Entity | None:
    """A copy the caller's later edits cannot reach (a JSON round trip: several times faster than deepcopy)."""
    return None if entity is None else orjson.loads(orjson.dumps(entity))


class Recording:
    """A write transaction that remembers each entity's state before and after (when anyone listens),
    and checks each entity it writes against its data model (`mode`: strict, warn or off)."""

    def __init__(
        self, tx: WriteTransaction, listening: bool, now: str, validation: Validation | None = None, mode: str = "off"
    ):
        self.tx = tx
        self.listening = listening
        self.now = now
        self.before: dict[str, Entity | None] = {}
        self.after: dict[str, Entity | None] = {}
        self.validation = validation
        self.mode = mode
        self.flags: list[Flag] = []

    def _check(self, entity: Entity) -> None:
        if self.validation is not None:
            flag = self.validation.check(entity, self.mode)
            if flag is not None:
                self.flags.append(flag)

    def _remember(self, entity_id: str, before: Entity | None) -> None:
        if self.listening and entity_id not in self.before:
            self.before[entity_id] = _snapshot(before)

    async def prefetch(self, entity_ids: list[str]) -> None:
        await self.tx.prefetch(entity_ids)

    async def get(self, entity_id: str) -> Entity | None:
        found = await self.tx.get(entity_id)
        self._remember(entity_id, found)
        return found

    async def insert(self, entity: Entity) -> bool:
        if self.mode != "off" and await self.tx.get(entity["id"]) is None:  # an existing one is not written
            self._check(entity)
        inserted = await self.tx.insert(entity)
        if inserted:
            self._remember(entity["id"], None)
            if self.listening:
                self.after[entity["id"]] = _snapshot(entity)
        return inserted

    async def create(self, entity: Entity) -> None:
        if self.mode != "off":  # an existing entity is refused before it is checked, as by insert
            await create_by_insert(self, entity)
            return
        await self.tx.create(entity)
        self._remember(entity["id"], None)
        if self.listening:
            self.after[entity["id"]] = _snapshot(entity)

    async def replace(self, entity: Entity) -> None:
        self._check(entity)
        if self.listening and entity["id"] not in self.before:
            self._remember(entity["id"], await self.tx.get(entity["id"]))
        await self.tx.replace(entity)
        if self.listening:
            self.after[entity["id"]] = _snapshot(entity)

    async def delete(self, entity_id: str) -> bool:
        if self.listening and entity_id not in self.before:
            self._remember(entity_id, await self.tx.get(entity_id))
        deleted = await self.tx.delete(entity_id)
        if deleted and self.listening:
            self.after[entity_id] = None
        return deleted

    async def delete_matching(self, query: EntityQuery) -> int:
        return await self.tx.delete_matching(query)

    async def add_history(self, rows: list[HistoryRow], upsert: bool = False) -> None:
        """Instances for the history only (older readings): they change no current state and notify nobody."""
        await self.tx.add_history(rows, upsert)

    def changes(self) -> list[rules.Change]:
        return [
            rules.Change.between(self.before.get(entity_id), after, self.now)
            for entity_id, after in self.after.items()
            if not (self.before.get(entity_id) is None and after is None)
        ]


class Notifier:
    def __init__(
        self,
        store: EntityStore,
        contexts: ContextService,
        validation: Validation | None = None,
        policies: PolicyService | None = None,
    ):
        self.store = store
        self.contexts = contexts
        self.validation = validation
        self.policies = policies
        self.wake: Callable[[], None] = lambda: None  # set by the delivery worker of this process
        self._last_queued: dict[tuple[str, str], float] = {}

    @asynccontextmanager
    async def write(self, tenant: str, mode: str | None = None, source: str = "api") -> AsyncIterator[Recording]:
        """A write transaction; `mode` overrides the tenant's validation mode, `source` names who wrote."""
        queued = False
        if mode is None:
            mode = self.validation.mode(tenant) if self.validation is not None else "off"
        async with self.store.transaction(tenant) as tx:
            now = now_iso()
            recording = Recording(guard(tx), True, now, self.validation, mode)
            yield recording
            changed = recording.changes()
            history = [row for change in changed for row in rows_of_change(change)]
            if history:
                await tx.add_history(history)
            while True:  # until the notifications were made from the subscriptions in force when written
                subs = [s for s in await tx.subscriptions() if rules.is_live(s, now) and "timeInterval" not in s]
                rows = await self._owed(tenant, subs, changed) if subs else []
                if rows:
                    await tx.add_outbox(rows)
                if await tx.flush(last=True):  # nothing of the transaction follows
                    queued = bool(rows)
                    break
        if queued:
            self.wake()
        if recording.flags:
            await self.store.add_rejections(
                [flagged(tenant, source, f.problems, orjson.dumps(f.entity).decode(), now) for f in recording.flags]
            )

    async def _owed(self, tenant: str, subs: list[dict[str, Any]], changes: list[rules.Change]) -> list[OutboxRow]:
        rows = []
        for sub in subs:
            ctx = await self.context_of(sub)
            access = await self.owner_access(tenant, sub)
            for change in changes:
                seen = _seen(access, change)
                if seen is not None and rules.owes(sub, seen, ctx) and not self._throttled(tenant, sub):
                    entity = rules.notification_entity(sub, seen)
                    data = await self._data(tenant, sub, [entity], ctx, access)
                    rows.append(self.row(tenant, sub, data, change.now))
        return rows

    async def owner_access(self, tenant: str, sub: dict[str, Any]) -> Access:
        """What the subscription's owner may read now (a subscription from before owners were kept: all)."""
        owner = sub.get("_owner")
        if self.policies is None or not isinstance(owner, dict):
            return EVERYTHING
        who = Principal.from_document(owner)
        if not who.may_use(tenant) or not await self._key_alive(who):
            return NOTHING
        return await self.policies.access(who, tenant, sub.get("_purpose"))

    async def _key_alive(self, who: Principal) -> bool:
        """An owner that is an API key must still be valid: revoking a key silences its subscriptions."""
        if who.kind != "apikey":
            return True
        key = await self.store.get_api_key(who.subject)
        now = now_iso()
        return key is not None and key.revoked_at is None and (key.expires_at is None or key.expires_at > now)

    async def _data(
        self, tenant: str, sub: dict[str, Any], entities: list[Entity], ctx: ActiveContext, access: Access
    ) -> list[dict[str, Any]]:
        """The notification's data: rendered entities, with linked entities when the subscription joins."""
        view = rules.view_of(sub)
        if not view.join:
            return [rules.render_data(sub, e, ctx) for e in entities]
        linked = await linked_entities(self.store, tenant, entities, view.join_level, access)
        joiner = Joiner(lambda v: Renderer(ctx, v), linked, view.join_level)
        if view.join == "flat":
            return joiner.flat(entities, view)
        return [joiner.inline(e, view) for e in entities]

    async def context_of(self, sub: dict[str, Any]) -> ActiveContext:
        if sub.get("_jsonldContext"):
            return await self.contexts.resolve(sub["_jsonldContext"])
        return await self.contexts.resolve(sub.get("_context"))

    def _throttled(self, tenant: str, sub: dict[str, Any]) -> bool:
        throttling = sub.get("throttling")
        if not throttling:
            return False
        key = (tenant, sub["id"])
        now = time.monotonic()
        if now - self._last_queued.get(key, -1e18) < float(throttling):
            return True
        self._last_queued[key] = now
        return False

    @staticmethod
    def row(tenant: str, sub: dict[str, Any], data: list[dict[str, Any]], now: str) -> OutboxRow:
        endpoint = dict(sub["notification"]["endpoint"])
        url = context_url(sub)
        if endpoint.get("accept") == "application/ld+json":
            data = [{**item, "@context": url} for item in data]
        else:
            endpoint["link"] = url
        notification_id = f"urn:ngsi-ld:Notification:{uuid.uuid4()}"
        body = {
            "id": notification_id,
            "type": "Notification",
            "subscriptionId": sub["id"],
            "notifiedAt": now,
            "data": data,
        }
        return OutboxRow(tenant, sub["id"], notification_id, endpoint, orjson.dumps(body).decode(), now)

    async def periodic(self, tenant: str, sub: dict[str, Any], query: EntityQuery) -> None:
        """Queue a timeInterval notification with the entities matching the subscription now, among those its
        owner may read."""
        ctx = await self.context_of(sub)
        now = now_iso()
        access = await self.owner_access(tenant, sub)
        if not access.allows("read"):
            return
        entities = [access.project("read", e) for e in (await self.store.query(fenced(query, access=access))).entities]
        matching = [e for e in entities if rules.matches_entity(sub, e, ctx)]
        data = await self._data(tenant, sub, matching, ctx, access) if matching else []
        if not data:
            return
        async with self.store.transaction(tenant) as tx:
            await tx.add_outbox([self.row(tenant, sub, data, now)])
        self.wake()
