"""The audit log: an append-only chain of records, each hashing the one before; `verify` finds any change."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from dosi.store.base import GENESIS, EntityStore, chain_hash


def record(**fields: object) -> str:
    """One audit record as canonical JSON (sorted keys), the text the chain hashes."""
    return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS).decode()


@dataclass
class Verdict:
    records: int
    broken_at: int | None  # the seq of the first record whose hash does not follow, or None
    reason: str = ""
    last_hash: str = GENESIS

    @property
    def intact(self) -> bool:
        return self.broken_at is None


async def verify(store: EntityStore, page: int = 10_000) -> Verdict:
    """Walk the chain: each hash must cover its record and the previous hash, so a changed or removed record
    breaks it at the next one. (Removing the newest records leaves no trace in the chain itself: keep the
    latest hash elsewhere, as `dosi audit verify` prints it, to detect that too.)"""
    previous, last_seq, count = GENESIS, 0, 0
    while rows := await store.audit_log(last_seq, page):
        for seq, doc, stored in rows:
            if chain_hash(previous, doc) != stored:
                return Verdict(count, seq, "the record or the one before it was changed")
            previous, last_seq, count = stored, seq, count + 1
    return Verdict(count, None, last_hash=previous)
