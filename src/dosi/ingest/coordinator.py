"""One coordinator for every source: starts them, restarts a failing one with backoff, keeps their status.

Pull sources (MQTT, polling) run in one process of the hub at a time, the one holding the store's
"ingest" lead; the others stand by and take over when it goes. Push sources (HTTP) are answered by
whichever process receives the request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson

from dosi.errors import ResourceNotFound
from dosi.ingest.config import SourceConfig, load_files
from dosi.ingest.mapping import MappingError
from dosi.ingest.pipeline import Pipeline
from dosi.ingest.source import Message, Source
from dosi.models.registry import ModelRegistry
from dosi.ngsild.model import now_iso
from dosi.outbound import OutboundGuard
from dosi.security.access import authorize
from dosi.security.context import Served, served_purpose, serving
from dosi.security.policy import EVERYTHING
from dosi.security.principal import Principal
from dosi.service.ingest import IngestWriter
from dosi.service.policies import PolicyService
from dosi.store.base import EntityStore

log = logging.getLogger("dosi.ingest")
PULL = ("mqtt", "poll")
BACKOFF_FIRST, BACKOFF_MAX = 1.0, 60.0
LEAD_RETRY = 15.0


def make_source(config: SourceConfig, guard: OutboundGuard) -> Source:
    if config.kind == "mqtt":
        from dosi.ingest.sources.mqtt import MqttSource

        return MqttSource(config)
    from dosi.ingest.sources.poll import PollSource

    return PollSource(config, guard)


class Coordinator:
    def __init__(
        self,
        store: EntityStore,
        writer: IngestWriter,
        registry: ModelRegistry,
        guard: OutboundGuard,
        files: str = "",
        status_interval: float = 5.0,
        policies: PolicyService | None = None,
    ):
        self.policies = policies
        self.store = store
        self.writer = writer
        self.registry = registry
        self.guard = guard
        self.files = files
        self.status_interval = status_interval
        self.pipelines: dict[str, Pipeline] = {}
        self._tasks: list[asyncio.Task[None]] = []

    async def _configs(self) -> list[SourceConfig]:
        """The sources of the config files and of the store (a broken stored config is logged, not fatal)."""
        configs = {c.name: c for c in await asyncio.to_thread(load_files, self.files, self.registry)}
        for name, text in await self.store.list_sources():
            try:
                configs[name] = await asyncio.to_thread(SourceConfig.parse, text, self.registry)
            except MappingError as err:
                log.error("ingest source %s cannot be loaded: %s", name, err)
        return list(configs.values())

    async def load(self) -> None:
        """Adds the sources this process does not run yet; a changed config takes effect at the next start."""
        for config in await self._configs():
            self.pipelines.setdefault(config.name, Pipeline(config, self.writer))

    async def start(self) -> None:
        await self.load()
        self._tasks = [asyncio.create_task(self._lead()), asyncio.create_task(self._save_status())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        with contextlib.suppress(Exception):
            await self._save_once()

    async def pipeline(self, name: str, kind: str | None = None) -> Pipeline:
        if name not in self.pipelines:
            await self.load()  # added since this process started (an unknown name costs a reload: admins' configs)
        found = self.pipelines.get(name)
        if found is None or (kind is not None and found.config.kind != kind):
            raise ResourceNotFound(f"no {kind or 'ingest'} source named {name} / {name} 수집원이 없습니다")
        return found

    async def push(self, name: str, body: bytes, principal: Principal) -> Any:
        """An HTTP push: the body's records stored (or rejected) before the request is answered. The caller must
        be allowed to write to the source's tenant (whatever NGSILD-Tenant header it sent)."""
        pipeline = await self.pipeline(name, "http")
        tenant = pipeline.config.tenant
        purpose = served_purpose()
        access = await self.policies.access(principal, tenant, purpose) if self.policies else EVERYTHING
        authorize(principal, access, "update", tenant)
        with serving(Served(principal, access, purpose)):  # each record is checked against what it may write
            return await pipeline.feed([Message(body)])

    async def replay(self, source: str | None, limit: int, tenants: list[str] | None = None) -> dict[str, int]:
        """Sends rejected messages through their source's mapping as it is configured now (after a fix); each is
        marked replayed, and one rejected again gets a new entry with the new reason."""
        pipelines = {c.name: Pipeline(c, self.writer) for c in await self._configs()}
        done = {"replayed": 0, "stored": 0, "rejected": 0, "unknown_source": 0}
        for row in await self.store.rejections(source, 0, limit, pending=True, tenants=tenants):
            pipeline = pipelines.get(row.source)
            if pipeline is None:
                done["unknown_source"] += 1
                continue
            outcome = await pipeline.replay(row.payload)
            await self.store.mark_replayed([row.seq], now_iso())
            done["replayed"] += 1
            done["stored"] += outcome.stored
            done["rejected"] += outcome.refused
        return done

    async def statuses(self, tenants: list[str] | None = None) -> list[dict[str, Any]]:
        """Every source's status (of these tenants): as saved by whichever process runs it, or live from this
        one when it runs it."""
        found = {name: orjson.loads(doc) for name, doc in await self.store.list_status()}
        for name, pipeline in self.pipelines.items():
            if pipeline.status.messages_in or pipeline.status.records_in or name not in found:
                found[name] = orjson.loads(pipeline.status.doc())
        shown = [found[name] for name in sorted(found)]
        return shown if tenants is None else [s for s in shown if s.get("tenant", "") in tenants]

    async def _lead(self) -> None:
        """Runs the pull sources while this process leads; stands by otherwise."""
        pulls = [p for p in self.pipelines.values() if p.config.kind in PULL]
        if not pulls:
            return
        while not await self.store.try_lead("ingest"):
            for pipeline in pulls:
                pipeline.status.state = "standby"
            await asyncio.sleep(LEAD_RETRY)
        runs = [asyncio.create_task(self._run(p)) for p in pulls]
        try:
            await asyncio.gather(*runs)
        finally:
            for run in runs:
                run.cancel()

    async def _run(self, pipeline: Pipeline) -> None:
        delay = BACKOFF_FIRST
        while True:
            try:
                source = make_source(pipeline.config, self.guard)
                pipeline.status.state = "running"
                await source.run(pipeline.deliver)
                delay = BACKOFF_FIRST
            except asyncio.CancelledError:
                pipeline.status.state = "stopped"
                raise
            except Exception as err:  # the origin failed: say so, wait, try again
                pipeline.status.failed(f"{type(err).__name__}: {err}")
                log.warning("ingest source %s failed (%s); retrying in %.0f s", pipeline.config.name, err, delay)
                await asyncio.sleep(delay)
                delay = min(BACKOFF_MAX, delay * 2)

    async def _save_status(self) -> None:
        while True:
            await asyncio.sleep(self.status_interval)
            try:
                await self._save_once()
            except Exception as err:  # the store may be briefly unavailable; the next round saves again
                log.warning("ingest status not saved: %s", err)

    async def _save_once(self) -> None:
        now = now_iso()
        for pipeline in self.pipelines.values():
            if pipeline.status.messages_in or pipeline.status.state != "starting":
                await self.store.save_status(pipeline.config.name, pipeline.status.doc(), now)
