"""The outbox seam of the storage contract: claim, finish together, retry (SQLite and PostgreSQL alike)."""

from __future__ import annotations

import time

from dosi.store.base import EntityStore, OutboxRow

AT = "2026-01-01T00:00:00.000000Z"
LATER = "2026-01-01T00:00:05.000000Z"


def owed(sub_id: str, number: int) -> OutboxRow:
    return OutboxRow("", sub_id, f"urn:ngsi-ld:Notification:{sub_id}-{number}", {"uri": "http://r.example/"}, "{}", AT)


async def subscribe(store: EntityStore, sub_id: str) -> None:
    assert await store.insert_subscription("", {"id": sub_id, "type": "Subscription"})


async def test_rows_delivered_together_are_finished_and_counted_per_subscription(store: EntityStore) -> None:
    await subscribe(store, "urn:s:a")
    await subscribe(store, "urn:s:b")
    async with store.transaction("") as tx:
        await tx.add_outbox([owed("urn:s:a", 1), owed("urn:s:a", 2), owed("urn:s:b", 1), owed("urn:s:a", 3)])
    claimed = await store.claim_outbox(time.time(), 60, 10, AT)
    assert [(r.subscription_id, r.notification_id[-3:]) for r in claimed] == [
        ("urn:s:a", "a-1"), ("urn:s:a", "a-2"), ("urn:s:b", "b-1"), ("urn:s:a", "a-3")
    ]  # fmt: skip
    assert await store.claim_outbox(time.time(), 60, 10, AT) == []  # leased
    await store.delivered(claimed[:3], LATER)
    assert await store.outbox_size() == 1
    a, b = await store.get_subscription("", "urn:s:a"), await store.get_subscription("", "urn:s:b")
    assert a is not None and b is not None
    assert a["notification"] == {"timesSent": 3, "lastNotification": AT, "lastSuccess": LATER, "status": "ok"}
    assert b["notification"] == {"timesSent": 1, "lastNotification": AT, "lastSuccess": LATER, "status": "ok"}
    await store.delivered(claimed[:3], "2026-01-01T00:09:00.000000Z")  # finished already: counts nothing
    again = await store.get_subscription("", "urn:s:a")
    assert again is not None and again["notification"]["lastSuccess"] == LATER


async def test_a_retried_row_comes_back_when_due(store: EntityStore) -> None:
    await subscribe(store, "urn:s:a")
    async with store.transaction("") as tx:
        await tx.add_outbox([owed("urn:s:a", 1)])
    [row] = await store.claim_outbox(time.time(), 60, 10, AT)
    await store.retry_outbox(row.seq, time.time() + 3600, "receiver down")
    assert await store.claim_outbox(time.time(), 60, 10, AT) == []
    [back] = await store.claim_outbox(time.time() + 7200, 60, 10, AT)
    assert (back.seq, back.attempts) == (row.seq, 1)
    await store.delivered([back], LATER)
    assert await store.outbox_size() == 0
