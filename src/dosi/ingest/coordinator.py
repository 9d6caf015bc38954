"""One coordinator for every source: starts them, restarts a failing one with backoff, keeps their status.

Polling sources run in one process of the hub at a time, the one holding the store's "ingest" lead; the
others stand by and take over when it goes. MQTT sources are shared by `shares` processes: each slot is a
lead of its own ("ingest-share-N") with its own persistent MQTT session, and the topics are subscribed as
MQTT shared subscriptions, so the broker deals each message to one slot. A process takes one free slot at
start and one more per round while slots stay free (a stopped process's slot, with the messages its session
holds, is taken over). With one share, MQTT sources run with the polling ones, on plain subscriptions. Push
sources (HTTP) are answered by whichever process receives the request.
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
from dosi.ingest.source import Message, Share, Source
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


def make_source(pipeline: Pipeline, guard: OutboundGuard) -> Source:
    config = pipeline.config
    if config.kind == "mqtt":
        from dosi.ingest.sources.mqtt import MqttSource

        return MqttSource(config, pipeline.share)
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
        shares: int = 1,
    ):
        self.policies = policies
        self.store = store
        self.writer = writer
        self.registry = registry
        self.guard = guard
        self.files = files
        self.status_interval = status_interval
        self.shares = shares
        self.pipelines: dict[str, Pipeline] = {}  # by source name: push, replay and the unshared pull sources
        self.shared: dict[tuple[str, int], Pipeline] = {}  # (source name, slot): the MQTT slots this process runs
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
        self._tasks = [
            asyncio.create_task(self._lead()),
            asyncio.create_task(self._share()),
            asyncio.create_task(self._save_status()),
        ]

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
        """Each source's status (of these tenants), as saved by the processes that run it or live from this one;
        a shared source's slots summed into one. Of the configurations a source's statuses were saved under (not
        shared, or shared by N), the one saved last is shown: a change of DOSI_INGEST_SHARES leaves rows behind,
        and `dosi ingest status` need not know the server's number of shares."""
        found = {key: orjson.loads(doc) for key, doc in await self.store.list_status()}
        now = now_iso()
        for key, pipeline in self._running().items():
            if pipeline.status.messages_in or pipeline.status.records_in:
                found[key] = {**orjson.loads(pipeline.status.doc()), "saved_at": now}
        configurations: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for doc in found.values():
            shares = doc.get("share", "").partition("/")[2]  # "" when not shared
            configurations.setdefault(doc["name"], {}).setdefault(shares, []).append(doc)
        for name, pipeline in self.pipelines.items():  # known here, no status saved anywhere yet
            configurations.setdefault(name, {"": [orjson.loads(pipeline.status.doc())]})
        shown = [summed(max(c.values(), key=_saved_last)) for _, c in sorted(configurations.items())]
        return shown if tenants is None else [s for s in shown if s.get("tenant", "") in tenants]

    def _running(self) -> dict[str, Pipeline]:
        """This process's pipelines by the key their status is saved under."""
        running = {name: p for name, p in self.pipelines.items() if not self._is_shared(p)}
        running.update((f"{name}#{slot}", p) for (name, slot), p in self.shared.items())
        return running

    def _is_shared(self, pipeline: Pipeline) -> bool:
        return self.shares > 1 and pipeline.config.kind == "mqtt"

    async def _lead(self) -> None:
        """Runs the unshared pull sources while this process leads; stands by otherwise."""
        pulls = [p for p in self.pipelines.values() if p.config.kind in PULL and not self._is_shared(p)]
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

    async def _share(self) -> None:
        """Runs the shared MQTT sources in the slots this process holds: one at first, then one more free slot
        per round (the slots of processes that stopped)."""
        configs = [p.config for p in self.pipelines.values() if self._is_shared(p)]
        if not configs:
            return
        held: set[int] = set()
        runs: list[asyncio.Task[None]] = []
        try:
            while True:
                for slot in range(self.shares):
                    if slot not in held and await self.store.try_lead(f"ingest-share-{slot}"):
                        held.add(slot)
                        for config in configs:
                            pipeline = Pipeline(config, self.writer, Share(slot, self.shares))
                            self.shared[(config.name, slot)] = pipeline
                            runs.append(asyncio.create_task(self._run(pipeline)))
                        break
                if not held:
                    for config in configs:
                        self.pipelines[config.name].status.state = "standby"
                await asyncio.sleep(LEAD_RETRY)
        finally:
            for run in runs:
                run.cancel()

    async def _run(self, pipeline: Pipeline) -> None:
        delay = BACKOFF_FIRST
        while True:
            try:
                source = make_source(pipeline, self.guard)
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
        for key, pipeline in self._running().items():
            if pipeline.status.messages_in or pipeline.status.state != "starting":
                pipeline.status.saved_at = now
                await self.store.save_status(key, pipeline.status.doc(), now)


COUNTS = ("messages_in", "records_in", "stored", "duplicates", "rejected", "flagged", "rate_per_s")
STATES = ("failing", "running", "standby", "starting", "stopped")  # a shared source shows its slots' worst state


def _saved_last(docs: list[dict[str, Any]]) -> str:
    return max(str(d.get("saved_at") or "") for d in docs)


def summed(slots: list[dict[str, Any]]) -> dict[str, Any]:
    """One status of a source's slots: counts added up, the worst state, the latest success and error."""
    if len(slots) == 1:
        return slots[0]
    total = {**slots[0], "share": f"{len(slots)} slots"}
    for count in COUNTS:
        total[count] = round(sum(s.get(count, 0) for s in slots), 2)
    total["state"] = min(
        (s.get("state", "starting") for s in slots), key=lambda s: STATES.index(s) if s in STATES else 0
    )
    total["saved_at"] = _saved_last(slots)
    total["last_success"] = max((s["last_success"] for s in slots if s.get("last_success")), default=None)
    failed = [s for s in slots if s.get("last_error_at")]
    latest = max(failed, key=lambda s: s["last_error_at"]) if failed else {}
    total["last_error"], total["last_error_at"] = latest.get("last_error"), latest.get("last_error_at")
    return total
