"""History retention: how long instances are kept, per tenant and entity type, and the job that prunes them.

Retention counts from when the hub recorded an instance (its createdAt), which is when the hub collected it:
an instance imported today with an observedAt of 2020 is kept for the full period from today.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from pydantic import BaseModel, field_validator

from dosi.errors import BadRequestData
from dosi.ngsild.context import DEFAULT_VOCAB
from dosi.ngsild.temporal import parse_duration
from dosi.store.base import EntityStore, PruneScope

log = logging.getLogger("dosi.retention")


class RetentionRule(BaseModel):
    """Keep instances for `keep` (ISO 8601 duration); `tenant` and `type` narrow the rule (absent: every)."""

    keep: str
    tenant: str | None = None  # "" is the default tenant
    type: str | None = None  # a full type IRI, or a short name of the default @vocab

    @field_validator("keep")
    @classmethod
    def _duration(cls, value: str) -> str:
        try:
            parse_duration(value)
        except BadRequestData:
            raise ValueError(f"keep must be an ISO 8601 duration such as P30D, not {value!r}") from None
        return value

    def scope(self) -> PruneScope:
        type_iri = self.type
        if type_iri is not None and ":" not in type_iri:
            type_iri = DEFAULT_VOCAB + type_iri
        return PruneScope(self.tenant, type_iri)

    def seconds(self) -> float:
        return parse_duration(self.keep)


@dataclass
class PruneStep:
    scope: PruneScope
    cutoff: float  # instances recorded before this epoch second go
    spared: list[PruneScope] = field(default_factory=list)  # narrower rules decide for these


def plan(rules: list[RetentionRule], now: float) -> list[PruneStep]:
    """One step per rule; each leaves to the narrower rules the instances they cover."""
    scoped = [(rule.scope(), now - rule.seconds()) for rule in rules]
    steps = []
    for scope, cutoff in scoped:
        spared = [other for other, _ in scoped if other != scope and other.within(scope)]
        steps.append(PruneStep(scope, cutoff, spared))
    return steps


async def prune(
    store: EntityStore, rules: list[RetentionRule], now: float | None = None
) -> list[tuple[PruneStep, int]]:
    """Apply every rule once; (step, instances deleted) for each."""
    done = []
    for step in plan(rules, time.time() if now is None else now):
        deleted = await store.prune_history(step.scope, step.cutoff, step.spared)
        done.append((step, deleted))
    return done


class HistoryKeeper:
    """Background job of `dosi serve`: keeps the history's partitions ready and prunes it by the rules."""

    def __init__(self, store: EntityStore, rules: list[RetentionRule], interval: float):
        self.store = store
        self.rules = rules
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="dosi-history-keeper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                if not await self.store.try_lead("history"):  # one process of the hub does this work
                    await asyncio.sleep(self.interval)
                    continue
                await self.store.maintain_history(time.time())
                for step, deleted in await prune(self.store, self.rules):
                    if deleted:
                        log.info("history pruned: %d instances of %s before %s", deleted, step.scope, step.cutoff)
            except asyncio.CancelledError:
                raise
            except Exception:  # a failed round is retried at the next one; the server keeps serving
                log.exception("history maintenance failed")
            await asyncio.sleep(self.interval)
