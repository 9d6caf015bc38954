"""Ingest writes: mapped records become entities and history, or rejections with a reason.

Duplicates are recognised per attribute instant. Per batch, each entity's records are ordered by observedAt.
Of the newest record, the attributes that are news (the entity lacks them, or holds an older instant) move
the current state forward like any client's upsert: history, subscriptions and notifications included.
Everything else (older records, the newest record's other attributes) goes to the history only, minus the
(attribute, instant) pairs the history already holds. So a message delivered twice is stored once, and a
late one is kept where it belongs in time. Records without times replace the current state when some value
changed. A batch is one transaction whose entities are read under the write lock (PostgreSQL: their rows
locked), so processes that share a source cannot move a current state backwards. The history's holdings are
read before the write: two deliveries of one older reading, processed at the same moment by two PostgreSQL
processes, can both be kept, a window this design accepts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from dosi.errors import CreatedConcurrently, DosiError, Forbidden, ModelViolation
from dosi.ngsild.context import DEFAULT_CORE_URL
from dosi.ngsild.model import now_iso
from dosi.ngsild.parse import Parser
from dosi.ngsild.temporal import epoch
from dosi.service.batch import UPSERT_ATTEMPTS
from dosi.service.contexts import ContextService
from dosi.service.history import row_of
from dosi.service.merge import add_to, stamp_entity
from dosi.service.notify import Notifier, Recording
from dosi.service.validation import Validation, flagged
from dosi.store.base import Entity, EntityStore, HistoryRow, Rejection, TimeWindow

ORPHANED = "an older reading of an entity whose newest reading was rejected; replay it after the fix"


@dataclass
class Outcome:
    stored: int = 0  # records that added something (current state or history)
    duplicates: int = 0  # records that added nothing: every instant of theirs was held
    rejected: list[Rejection] = field(default_factory=list)  # refused records, and flagged ones (stored anyway)

    @property
    def refused(self) -> int:
        return sum(1 for r in self.rejected if r.outcome == "rejected")

    @property
    def flagged(self) -> int:
        return sum(1 for r in self.rejected if r.outcome == "flagged")


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


@dataclass
class _Past:
    """Instances bound for the history only, and the record they came from."""

    item: Mapped
    attrs: dict[str, list[dict[str, Any]]]


class IngestWriter:
    def __init__(self, store: EntityStore, contexts: ContextService, notifier: Notifier, validation: Validation):
        self.store = store
        self.contexts = contexts
        self.notifier = notifier
        self.validation = validation

    async def write(self, tenant: str, source: str, mode: str, items: list[Mapped]) -> Outcome:
        now = now_iso()
        refused: list[Rejection] = []
        checked: dict[str, list[Mapped]] = defaultdict(list)
        for item in items:
            ctx = await self.contexts.resolve([item.context, DEFAULT_CORE_URL] if item.context else None)
            try:
                item.expanded = Parser(ctx, now).entity(item.entity)
                flag = self.validation.check(item.expanded, mode)
            except DosiError as err:
                refused.append(Rejection(tenant, source, "rejected", err.detail, item.raw, now))
                continue
            if flag is not None:
                refused.append(flagged(tenant, source, flag.problems, item.raw, now))
            checked[item.expanded["id"]].append(item)
        for group in checked.values():
            group.sort(key=lambda item: item.observed)
        for attempt in range(UPSERT_ATTEMPTS):
            outcome = Outcome(rejected=list(refused))
            try:
                await self._store(tenant, source, checked, outcome, now)
                break
            except CreatedConcurrently:  # another process created one of the entities first: read them again
                if attempt == UPSERT_ATTEMPTS - 1:
                    raise
        if outcome.rejected:
            await self.store.add_rejections(outcome.rejected)
        return outcome

    async def _store(
        self, tenant: str, source: str, checked: dict[str, list[Mapped]], outcome: Outcome, now: str
    ) -> None:
        """One transaction: each entity read once, under the write lock (PostgreSQL: its row locked), so two
        processes taking readings of one sensor cannot move its current state backwards."""
        async with self.notifier.write(tenant, "off", source) as tx:
            await tx.prefetch(list(checked))
            past: list[_Past] = []
            written: set[int] = set()  # the records whose newest reading moved the current state
            for entity_id, group in checked.items():
                newest, held = group[-1], await tx.get(entity_id)
                if not newest.observed:  # records without a time: the last one stands, unless nothing changed
                    outcome.duplicates += len(group) - 1
                    news: dict[str, list[dict[str, Any]]] = newest.expanded["attrs"]
                    stale: dict[str, list[dict[str, Any]]] = {}
                    if _holds(held, newest.expanded):
                        outcome.duplicates += 1
                        continue
                else:
                    news, stale = _split(held, newest.expanded)
                if news:
                    problem = await self._put(tx, held, {**newest.expanded, "attrs": news}, now)
                    if problem is None:
                        written.add(id(newest))
                        outcome.stored += 1
                    else:
                        outcome.rejected.append(Rejection(tenant, source, "rejected", problem, newest.raw, now))
                        if held is None:  # nothing holds its older readings either
                            outcome.rejected.extend(
                                Rejection(tenant, source, "rejected", ORPHANED, item.raw, now) for item in group[:-1]
                            )
                            continue
                if newest.observed:
                    if stale:
                        past.append(_Past(newest, stale))
                    past.extend(_Past(item, item.expanded["attrs"]) for item in group[:-1])
            rows = await self._history_only(tenant, past, written, outcome, now)
            if rows:
                await tx.add_history(rows, upsert=True)

    @staticmethod
    async def _put(tx: Recording, held: Entity | None, entity: Entity, now: str) -> str | None:
        """The news of the newest reading into the current state; the reason when the write was refused."""
        try:
            if held is None:
                stamp_entity(entity, now)
                if not await tx.insert(entity):
                    raise CreatedConcurrently(f"entity {entity['id']} was created concurrently")
            else:
                add_to(held, entity, now)
                await tx.replace(held)
        except (ModelViolation, Forbidden) as err:  # refused before anything of it was written
            return err.detail
        return None

    async def _history_only(
        self, tenant: str, past: list[_Past], written: set[int], outcome: Outcome, now: str
    ) -> list[HistoryRow]:
        """Rows of the past instances that the history does not hold yet, by (attribute, instant)."""
        times = [t for p in past for t in _times(p.attrs)]
        if not times:
            return []
        ids = sorted({p.item.expanded["id"] for p in past})
        window = TimeWindow(after=min(times), after_inclusive=True, before=max(times) + 0.001)
        rows_held = await self.store.history(tenant, ids, None, window)
        held: set[tuple[str, str, int | None]] = {(r.entity_id, r.attr, _instant(r.observed_ts)) for r in rows_held}
        rows: list[HistoryRow] = []
        added: set[int] = set()
        for entry in past:
            entity = entry.item.expanded
            for attr, instances in entry.attrs.items():
                for inst in instances:
                    if "observedAt" not in inst:
                        continue  # not a reading: the current state holds it
                    key = (entity["id"], attr, _instant(epoch(inst["observedAt"])))
                    if key in held:
                        continue
                    held.add(key)
                    rows.append(row_of(entity["id"], entity["type"], attr, inst, now))
                    added.add(id(entry.item))
        for item in {id(p.item): p.item for p in past}.values():
            if id(item) not in written:
                if id(item) in added:
                    outcome.stored += 1
                else:
                    outcome.duplicates += 1
        return rows


def _times(attrs: dict[str, list[dict[str, Any]]]) -> list[float]:
    return [epoch(inst["observedAt"]) for instances in attrs.values() for inst in instances if "observedAt" in inst]


def _instant(ts: float | None) -> int | None:
    """Times written and read back as floats may differ in the last digit: compare to the millisecond."""
    return None if ts is None else round(ts * 1000)


def _split(
    held: dict[str, Any] | None, given: dict[str, Any]
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[dict[str, Any]]]]:
    """The attributes of `given` that are news for the entity `held` (absent, or held at an older instant),
    and the others (same or older instant: history only)."""
    news: dict[str, list[dict[str, Any]]] = {}
    stale: dict[str, list[dict[str, Any]]] = {}
    held_attrs = (held or {}).get("attrs", {})
    for attr, instances in given.get("attrs", {}).items():
        current = held_attrs.get(attr)
        given_at = epoch(instances[0]["observedAt"]) if "observedAt" in instances[0] else None
        held_at = epoch(current[0]["observedAt"]) if current and "observedAt" in current[0] else None
        if given_at is None:  # not a reading (a name, a position): news when its value changed
            if not current or not _same_value(instances[0], current[0]):
                news[attr] = instances
            continue
        is_news = not current or held_at is None or given_at > held_at
        (news if is_news else stale)[attr] = instances
    return news, stale


def _same_value(given: dict[str, Any], held: dict[str, Any]) -> bool:
    """Whether two instances hold one value (and unit): written out, this runs for every attribute of a reading."""
    return (
        given.get("value") == held.get("value")
        and given.get("object") == held.get("object")
        and given.get("languageMap") == held.get("languageMap")
        and given.get("unitCode") == held.get("unitCode")
    )


def _holds(entity: dict[str, Any] | None, given: dict[str, Any]) -> bool:
    """Whether the entity already holds every attribute value of `given` (a record seen before)."""
    if entity is None:
        return False
    for iri, instances in given.get("attrs", {}).items():
        held = entity.get("attrs", {}).get(iri)
        if not held or not _same_value(instances[0], held[0]):
            return False
    return True
