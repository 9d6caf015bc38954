"""The seam between the hub and where data comes from: a Source hands over messages, the hub stores them.

A source calls `deliver` with a batch of messages and acknowledges them to its origin (MQTT PUBACK,
the HTTP answer, the poll cursor, the file offset) only after `deliver` returns: by then every record
is stored or recorded as rejected, so a crash in between makes the origin send it again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class Message:
    body: bytes
    meta: dict[str, Any] = field(default_factory=dict)  # e.g. {"topic": ["city", "parking", "P-1"]}


@dataclass(frozen=True)
class Share:
    """One slot of a source that several processes share: slot `slot` of `of`."""

    slot: int
    of: int

    def __str__(self) -> str:
        return f"{self.slot + 1}/{self.of}"


Deliver = Callable[[list[Message]], Awaitable[None]]


class Source(Protocol):
    name: str

    async def run(self, deliver: Deliver) -> None:
        """Hands over messages until cancelled; raises when the origin fails (the coordinator backs off)."""
        ...
