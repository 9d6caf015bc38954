"""The delivery worker: drains the outbox with retries, backoff, a per-endpoint cap and a timeout.

Every process runs one. Rows are claimed with a lease, so several workers (processes or
hosts on one PostgreSQL) never send a row at the same time; a crash before a row is
finished means it is sent again after the lease (at least once, same notification id).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from dosi.ngsild.model import now_iso
from dosi.ngsild.notification import is_live
from dosi.ngsild.query import parse_type_expression
from dosi.notify.senders import DeliveryError, HttpSender, MqttSender, Sender
from dosi.outbound import OutboundGuard
from dosi.service.notify import Notifier
from dosi.service.params import expand_types
from dosi.settings import Settings
from dosi.store.base import EntityQuery, EntityStore, OutboxRow, Selector

log = logging.getLogger("dosi.notify")


class DeliveryWorker:
    def __init__(self, settings: Settings, store: EntityStore, notifier: Notifier, guard: OutboundGuard):
        self.settings = settings
        self.store = store
        self.notifier = notifier
        timeout = settings.notify_timeout
        self.senders: dict[str, Sender] = {"http": HttpSender(guard, timeout), "mqtt": MqttSender(guard, timeout)}
        self.event = asyncio.Event()
        self.inflight: set[asyncio.Task[None]] = set()
        self.caps: dict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(settings.notify_endpoint_concurrency)
        )
        # one notification at a time per subscription, so that each receives them in commit order
        self.in_order: dict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(1))
        self.tasks: list[asyncio.Task[None]] = []
        self.stopping = False
        self.listener: Any = None
        # a claimed row is another worker's to send again once its lease runs out (its claimer died)
        self.lease = max(10.0, 3 * settings.notify_timeout)
        self.finisher = Finisher(store)

    def wake(self) -> None:
        self.event.set()

    async def start(self) -> None:
        self.notifier.wake = self.wake
        listen = getattr(self.store, "listen", None)
        if listen is not None:  # PostgreSQL: other processes' commits wake us up
            self.listener = await listen(self.wake)
        self.tasks = [asyncio.create_task(self._drain()), asyncio.create_task(self._periodic())]

    async def stop(self) -> None:
        self.stopping = True
        self.event.set()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.inflight:
            await asyncio.wait(self.inflight, timeout=self.settings.notify_timeout)
        if self.listener is not None:
            await self.listener.close()
        sender = self.senders["http"]
        if isinstance(sender, HttpSender):
            await sender.close()

    # -- the outbox ------------------------------------------------------
    async def _drain(self) -> None:
        while not self.stopping:
            try:
                room = self.settings.notify_max_inflight - len(self.inflight)
                rows = await self.store.claim_outbox(time.time(), self.lease, room, now_iso()) if room > 0 else []
            except Exception:
                log.exception("cannot read the outbox")
                rows = []
            for row in rows:
                task = asyncio.create_task(self._deliver(row))
                self.inflight.add(task)
                task.add_done_callback(self._done)
            if not rows:
                self.event.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.settings.notify_poll_interval):
                        await self.event.wait()

    def _done(self, task: asyncio.Task[None]) -> None:
        self.inflight.discard(task)
        self.event.set()  # room for more: claim again without waiting for the poll

    async def _deliver(self, row: OutboxRow) -> None:
        uri = row.endpoint.get("uri", "")
        scheme = "mqtt" if uri.startswith(("mqtt:", "mqtts:")) else "http"
        host = urlsplit(uri).netloc
        async with self.in_order[row.subscription_id], self.caps[host]:  # counted as sent when claimed
            try:
                await self.senders[scheme].send(row.endpoint, row.payload.encode(), row.tenant)
            except DeliveryError as err:
                await self._failed(row, str(err))
                return
            except Exception as err:  # a sender bug must not lose the row
                log.exception("delivery of %s failed unexpectedly", row.notification_id)
                await self._failed(row, repr(err))
                return
        await self.finisher.finish(row)

    async def _failed(self, row: OutboxRow, reason: str) -> None:
        await self.store.record_delivery(row.tenant, row.subscription_id, "failed", now_iso())
        if row.attempts + 1 >= self.settings.notify_max_attempts:
            log.warning(
                "dropping notification %s to %s after %d attempts: %s",
                row.notification_id,
                row.endpoint.get("uri"),
                row.attempts + 1,
                reason,
            )
            await self.store.finish_outbox(row.seq)
            return
        delay = min(self.settings.notify_backoff_max, self.settings.notify_backoff_base * 2**row.attempts)
        await self.store.retry_outbox(row.seq, time.time() + delay, reason)
        self.event.set()

    # -- timeInterval subscriptions ---------------------------------------
    async def _periodic(self) -> None:
        due: dict[tuple[str, str], float] = {}
        while not self.stopping:
            await asyncio.sleep(0.5)
            try:
                await self._tick(due)
            except Exception:
                log.exception("periodic notifications failed")

    async def _tick(self, due: dict[tuple[str, str], float]) -> None:
        now = time.time()
        stamp = now_iso()
        for tenant, sub in await self.store.periodic_subscriptions():
            key = (tenant, sub["id"])
            interval = float(sub["timeInterval"])
            if key not in due:
                due[key] = _epoch(sub.get("modifiedAt", stamp)) + interval
            if now < due[key] or not is_live(sub, stamp):
                continue
            due[key] = now + interval
            if not await self.store.claim_periodic(tenant, sub["id"], now, now + interval):
                continue  # another process sends this round
            ctx = await self.notifier.context_of(sub)
            selectors = [
                Selector(
                    ids=(s["id"],) if "id" in s else None,
                    id_pattern=s.get("idPattern"),
                    types=expand_types(_types(s["type"]), ctx),
                )
                for s in sub.get("entities", [])
            ]
            query = EntityQuery(tenant=tenant, selectors=selectors or None, limit=self.settings.page_size_max)
            if sub.get("watchedAttributes"):
                query.attrs = list(sub["watchedAttributes"])
            await self.notifier.periodic(tenant, sub, query)


class Finisher:
    """Finishes delivered rows in groups: the rows delivered while one statement runs go together in the next.

    One statement per notification made every delivery wait for the subscription's counters row (each finish
    updates it) and for a commit of its own; under load, a group shares both. A row with no statement running is
    finished at once by the task that delivered it: a receiver that reads the subscription as soon as it has
    answered finds the delivery counted.
    """

    def __init__(self, store: EntityStore):
        self.store = store
        self.waiting: list[tuple[OutboxRow, asyncio.Future[None]]] = []
        self.busy = False
        self.next: asyncio.Task[None] | None = None  # the group led by a task of its own

    async def finish(self, row: OutboxRow) -> None:
        done = asyncio.get_running_loop().create_future()
        self.waiting.append((row, done))
        if not self.busy:
            await self._finish_waiting()
        await done

    async def _finish_waiting(self) -> None:
        self.busy = True
        group, self.waiting = self.waiting, []
        try:
            await self.store.delivered([row for row, _ in group], now_iso())
        except Exception:  # the rows stay claimed: sent again once their lease runs out (at least once)
            log.exception("cannot finish %d delivered notifications", len(group))
        finally:
            for _, done in group:
                if not done.done():
                    done.set_result(None)
            self.busy = False
            if self.waiting:  # delivered meanwhile
                self.next = asyncio.create_task(self._finish_waiting())


def _types(expression: str) -> Any:
    return parse_type_expression(expression)


def _epoch(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).timestamp()
