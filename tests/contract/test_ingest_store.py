"""The ingest part of the storage contract: models, source configs, status, the rejection log, leadership."""

from __future__ import annotations

from dosi.store.base import EntityStore, Rejection


def rejection(source: str, reason: str, outcome: str = "rejected") -> Rejection:
    return Rejection("", source, outcome, reason, '{"raw": true}', "2026-11-22T00:00:00Z")


async def test_models_and_sources_are_upserted(store: EntityStore) -> None:
    await store.put_model("Bench", '{"v": 1}', "2026-11-22T00:00:00Z")
    await store.put_model("Bench", '{"v": 2}', "2026-11-22T00:00:01Z")
    assert await store.list_models() == [("Bench", '{"v": 2}')]
    await store.put_source("air", "a = 1", "t")
    await store.put_source("air", "a = 2", "t")
    await store.put_source("bike", "b = 1", "t")
    assert await store.list_sources() == [("air", "a = 2"), ("bike", "b = 1")]
    assert await store.delete_source("air") and not await store.delete_source("air")
    await store.save_status("bike", '{"in": 3}', "t")
    await store.save_status("bike", '{"in": 4}', "t")
    assert await store.list_status() == [("bike", '{"in": 4}')]


async def test_rejections_are_listed_and_replayed(store: EntityStore) -> None:
    await store.add_rejections(
        [rejection("air", "no id"), rejection("bike", "bad unit"), rejection("air", "w", "flagged")]
    )
    everything = await store.rejections(None, 0, 10, pending=False)
    assert [(r.source, r.reason) for r in everything] == [("air", "no id"), ("bike", "bad unit"), ("air", "w")]
    assert everything[0].seq < everything[1].seq < everything[2].seq
    assert everything[0].payload == '{"raw": true}' and everything[0].replayed_at is None
    air = await store.rejections("air", 0, 10, pending=True)
    assert [r.reason for r in air] == ["no id"]  # flagged messages were stored: nothing to replay
    await store.mark_replayed([air[0].seq], "2026-11-22T01:00:00Z")
    assert await store.rejections("air", 0, 10, pending=True) == []
    assert [r.reason for r in await store.rejections(None, everything[0].seq, 1, pending=False)] == ["bad unit"]


async def test_one_leader_per_role(store: EntityStore, settings: object) -> None:
    from dosi.api.hub import open_store

    assert await store.try_lead("ingest")
    other = open_store(settings)  # type: ignore[arg-type]
    await other.open()
    try:
        assert not await other.try_lead("ingest")
        assert await other.try_lead("something-else")
        await store.close()
        assert await other.try_lead("ingest")  # the lock went with the first holder
    finally:
        await other.close()
        await store.open()
