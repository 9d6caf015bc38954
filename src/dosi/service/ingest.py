"""Ingest writes: mapped records become entities and history, or rejections with a reason. Nothing is lost.

Per batch, the records of each entity are ordered by observedAt. The newest one moves the entity's current
state forward through a batch upsert (history and notifications, like any client's write), unless the entity
already holds that instant (a duplicate: dropped) or a later one. Older records go to the history only, minus
the instances the history already holds at that instant, so a message delivered twice is stored once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from dosi.errors import DosiError
from dosi.ngsild.context import DEFAULT_CORE_URL, ActiveContext
from dosi.ngsild.model import now_iso
from dosi.ngsild.parse import Parser
from dosi.ngsild.temporal import epoch
from dosi.service.batch import BatchService
from dosi.service.contexts import ContextService
from dosi.service.entities import EntityService
from dosi.service.history import row_of
from dosi.service.temporal import TemporalService
from dosi.service.validation import Validation
from dosi.store.base import EntityStore, HistoryRow, Rejection, TimeWindow


@dataclass
class Outcome:
    stored: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    flagged: int = 0


@dataclass
class Mapped:
    """One record's entity (normalized, compact terms), and the raw record it came from."""

    entity: dict[str, Any]
    raw: str
    context: dict[str, str]
    expanded: dict[str, Any] = field(default_factory=dict)  # the hub's form, once parsed

    @property
    def observed(self) -> float:
        for value in self.entity.values():
            if isinstance(value, dict) and "observedAt" in value:
                return epoch(value["observedAt"])
        return 0.0


class IngestWriter:
    def __init__(
        self,
        store: EntityStore,
        contexts: ContextService,
        entities: EntityService,
        batch: BatchService,
        temporal: TemporalService,
        validation: Validation,
    ):
        self.store = store
        self.contexts = contexts
        self.entities = entities
        self.batch = batch
        self.temporal = temporal
        self.validation = validation

    async def write(self, tenant: str, source: str, mode: str, items: list[Mapped]) -> Outcome:
        outcome = Outcome()
        now = now_iso()
        checked: dict[str, list[tuple[Mapped, ActiveContext]]] = defaultdict(list)
        for item in items:
            ctx = await self.contexts.resolve([item.context, DEFAULT_CORE_URL] if item.context else None)
            try:
                expanded = Parser(ctx, now).entity(item.entity)
                flag = self.validation.check(expanded, mode)
            except DosiError as err:
                outcome.rejected.append(Rejection(tenant, source, "rejected", err.detail, item.raw, now))
                continue
            if flag is not None:
                reason = "stored with warnings: " + "; ".join(flag.problems)
                outcome.rejected.append(Rejection(tenant, source, "flagged", reason, item.raw, now))
                outcome.flagged += 1
            item.expanded = expanded
            checked[expanded["id"]].append((item, ctx))
        current = await self.entities.get_many(tenant, list(checked))
        fresh: list[tuple[Mapped, ActiveContext]] = []
        older: list[tuple[Mapped, ActiveContext]] = []
        for entity_id, group in checked.items():
            group.sort(key=lambda pair: pair[0].observed)
            newest, held = group[-1], _latest(current.get(entity_id))
            if not newest[0].observed:  # records without a time: the last one stands, unless nothing changed
                if _holds(current.get(entity_id), newest[0].expanded):
                    outcome.duplicates += len(group)
                else:
                    fresh.append(newest)
                    outcome.duplicates += len(group) - 1
                continue
            if held is None or newest[0].observed > held:
                fresh.append(newest)
                older.extend(group[:-1])
            else:
                older.extend(group)
        failed: dict[str, str] = {}
        if fresh:
            parsed = [m.expanded for m, _ in fresh]
            result = await self.batch.upsert_parsed(tenant, parsed, now, replace=False, mode="off")
            failed = {e["entityId"]: e["error"].get("detail", "") for e in result.errors}
            for item, _ in fresh:
                if item.entity["id"] in failed:
                    reason = failed[item.entity["id"]]
                    outcome.rejected.append(Rejection(tenant, source, "rejected", reason, item.raw, now))
                else:
                    outcome.stored += 1
        known = set(current) | {m.entity["id"] for m, _ in fresh if m.entity["id"] not in failed}
        orphans = [pair for pair in older if pair[0].entity["id"] not in known]  # their newest reading was refused
        for item, _ in orphans:
            reason = "an older reading of an entity whose newest reading was rejected; replay it after the fix"
            outcome.rejected.append(Rejection(tenant, source, "rejected", reason, item.raw, now))
        await self._history_only(tenant, [pair for pair in older if pair[0].entity["id"] in known], outcome, now)
        if outcome.rejected:
            await self.store.add_rejections(outcome.rejected)
        return outcome

    async def _history_only(
        self, tenant: str, items: list[tuple[Mapped, ActiveContext]], outcome: Outcome, now: str
    ) -> None:
        """Past instances (older than the entity's current state): added to its history, minus those it holds."""
        if not items:
            return
        times = [m.observed for m, _ in items]
        ids = sorted({m.entity["id"] for m, _ in items})
        window = TimeWindow(after=min(times), after_inclusive=True, before=max(times) + 0.001)
        held = {(r.entity_id, _instant(r.observed_ts)) for r in await self.store.history(tenant, ids, None, window)}
        rows: list[HistoryRow] = []
        for item, _ in items:
            entity_id = item.entity["id"]
            if (entity_id, _instant(item.observed)) in held:
                outcome.duplicates += 1
                continue
            entity = item.expanded
            rows.extend(
                row_of(entity_id, entity["type"], attr, inst, now)
                for attr, instances in entity["attrs"].items()
                for inst in instances
            )
            outcome.stored += 1
        if rows:  # the entities exist (the newest reading of each was written first): one transaction for all
            async with self.store.transaction(tenant) as tx:
                await tx.add_history(rows, upsert=True)


def _instant(ts: float | None) -> int | None:
    """Times written and read back as floats may differ in the last digit: compare to the millisecond."""
    return None if ts is None else round(ts * 1000)


def _holds(entity: dict[str, Any] | None, given: dict[str, Any]) -> bool:
    """Whether the entity already holds every attribute value of `given` (a record seen before)."""
    if entity is None:
        return False
    for iri, instances in given.get("attrs", {}).items():
        held = entity.get("attrs", {}).get(iri)
        if not held:
            return False
        if any(instances[0].get(key) != held[0].get(key) for key in ("value", "object", "languageMap", "unitCode")):
            return False
    return True


def _latest(entity: dict[str, Any] | None) -> float | None:
    """The latest observedAt the entity holds (None: a new entity, or one without observation times)."""
    if entity is None:
        return None
    times = [
        epoch(inst["observedAt"])
        for instances in entity.get("attrs", {}).values()
        for inst in instances
        if isinstance(inst, dict) and "observedAt" in inst
    ]
    return max(times) if times else None
