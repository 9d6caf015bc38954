"""One source's way in: messages -> records -> entities -> the ingest writer, with the source's counters."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from dosi.ingest.config import SourceConfig
from dosi.ingest.formats import parse
from dosi.ingest.mapping import Missing, Rejected, lookup
from dosi.ingest.source import Message, Share
from dosi.ngsild.model import now_iso
from dosi.service.ingest import IngestWriter, Mapped, Outcome
from dosi.store.base import Rejection


@dataclass
class SourceStatus:
    name: str
    kind: str
    tenant: str = ""
    share: str = ""  # "2/4": the slot this status counts, of a source shared by processes ("" when not shared)
    state: str = "starting"  # starting | running | failing | stopped | standby (another process leads)
    messages_in: int = 0
    records_in: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    flagged: int = 0
    last_success: str | None = None
    last_error: str | None = None
    last_error_at: str | None = None
    rate_per_s: float = 0.0  # records stored per second, over the last minute (or since the first batch)
    saved_at: str | None = None  # when this status was last saved to the store
    _recent: deque[tuple[float, int]] = field(default_factory=deque, repr=False)

    def count(self, outcome: Outcome) -> None:
        now = time.monotonic()
        self.stored += outcome.stored
        self.duplicates += outcome.duplicates
        self.rejected += outcome.refused
        self.flagged += outcome.flagged
        self._recent.append((now, outcome.stored))
        while self._recent and self._recent[0][0] < now - 60:
            self._recent.popleft()
        span = max(1.0, now - self._recent[0][0]) if self._recent else 60.0
        self.rate_per_s = round(sum(n for _, n in self._recent) / span, 2)
        if outcome.stored or outcome.duplicates:
            self.last_success = now_iso()

    def failed(self, error: str) -> None:
        self.state = "failing"
        self.last_error = error
        self.last_error_at = now_iso()

    def doc(self) -> str:
        return orjson.dumps({k: v for k, v in asdict(self).items() if not k.startswith("_")}).decode()


class Pipeline:
    def __init__(self, config: SourceConfig, writer: IngestWriter, share: Share | None = None):
        self.config = config
        self.writer = writer
        self.share = share
        self.status = SourceStatus(config.name, config.kind, config.tenant, str(share or ""))

    async def feed(self, messages: list[Message]) -> Outcome:
        """Stores (or rejects, with the reason) every record of the messages; returns once all are recorded."""
        now = now_iso()
        self.status.messages_in += len(messages)
        items: list[Mapped] = []
        refused: list[Rejection] = []
        for message in messages:
            try:
                documents = parse(message.body, self.config.format)
            except Rejected as err:
                refused.append(self._rejection(str(err), _raw(message.body), now))
                continue
            for document in documents:
                self._map(self._with_meta(document, message), items, refused, now)
        return await self._write(items, refused)

    async def deliver(self, messages: list[Message]) -> None:
        """A source's hand-over (the Deliver of dosi.ingest.source)."""
        await self.feed(messages)
        self.status.state = "running"

    async def feed_records(self, records: list[Any], meta: dict[str, Any] | None = None) -> Outcome:
        """Records already read (file rows, replayed rejections)."""
        now = now_iso()
        items: list[Mapped] = []
        refused: list[Rejection] = []
        for record in records:
            self._map_record({**record, **(meta or {})} if isinstance(record, dict) else record, items, refused, now)
        return await self._write(items, refused)

    async def _write(self, items: list[Mapped], refused: list[Rejection]) -> Outcome:
        config = self.config
        outcome = await self.writer.write(config.tenant, config.name, config.validation, items)
        if refused:
            await self.writer.store.add_rejections(refused)
            outcome.rejected.extend(refused)
        self.status.records_in += len(items) + len(refused)
        self.status.count(outcome)
        if self.status.state in ("starting", "failing"):
            self.status.state = "running"
        return outcome

    def _map(self, document: Any, items: list[Mapped], refused: list[Rejection], now: str) -> None:
        try:
            records = self.config.mapping.records_of(document)
        except Rejected as err:
            refused.append(self._rejection(str(err), _text(document), now))
            return
        for record in records:
            meta = {"$topic": document.get("$topic")} if isinstance(document, dict) and "$topic" in document else {}
            self._map_record({**record, **meta} if isinstance(record, dict) else record, items, refused, now)

    def _map_record(self, record: Any, items: list[Mapped], refused: list[Rejection], now: str) -> None:
        try:
            entity = self.config.mapping.entity(record)
        except Rejected as err:
            refused.append(self._rejection(str(err), _text(record), now))
            return
        except (ValueError, TypeError, ArithmeticError) as err:  # a shape no rule foresaw: logged, never looped on
            refused.append(self._rejection(f"cannot map this record: {type(err).__name__}: {err}", _text(record), now))
            return
        items.append(Mapped(entity, _text(record), self.config.mapping.context))

    @staticmethod
    def _with_meta(document: Any, message: Message) -> Any:
        if isinstance(document, dict) and "topic" in message.meta:
            return {**document, "$topic": message.meta["topic"]}
        return document

    def _rejection(self, reason: str, payload: str, now: str) -> Rejection:
        return Rejection(self.config.tenant, self.config.name, "rejected", reason, payload, now)

    async def replay(self, payload: str) -> Outcome:
        """A rejected message or record, sent through the (fixed) mapping again."""
        try:
            document = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return await self.feed([Message(payload.encode())])
        records_path = self.config.mapping.records
        if records_path is not None and lookup(document, records_path) is not Missing:
            return await self.feed([Message(payload.encode())])
        return await self.feed_records([document])


def _raw(body: bytes) -> str:
    """A message body as text for the log: undecodable bytes replaced, NUL written out (no store keeps it)."""
    return body.decode("utf-8", "replace").replace("\x00", "\\u0000")


def _text(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return repr(value)
