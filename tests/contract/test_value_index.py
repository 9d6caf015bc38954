"""The value index that q runs on: what a write records equals what the migration's backfill computes."""

from __future__ import annotations

import copy
from importlib import resources
from typing import Any

from dosi.service.merge import stamp_entity
from dosi.store.base import EntityStore
from tests.contract.test_store import make, put

ENTITIES = [
    make("urn:x:1", height=300, name="Eiffel", tags={"value": ["a", "b", 3]}, open=True),
    make("urn:x:2", label={"type": "LanguageProperty", "languageMap": {"fr": "Tour", "en": ["Tower", "Spire"]}}),
    make("urn:x:3", owner={"type": "Relationship", "object": ["urn:p:1", "urn:p:2"]}),
    make("urn:x:4", kind={"type": "VocabProperty", "vocab": "https://example.org/Tall"}),
    make("urn:x:5", typed={"value": {"@value": "2024-01-01", "@type": "DateTime"}}, nested={"value": {"a": 1}}),
    make("urn:x:6", speed=[{"type": "Property", "value": 30}, {"type": "Property", "value": 80, "datasetId": "urn:d"}]),
]

# every value of ENTITIES changed, kind by kind
CHANGED = [
    make("urn:x:1", height=301, name="Eiffel", tags={"value": ["a", 4]}, open=True),
    make("urn:x:2", label={"type": "LanguageProperty", "languageMap": {"fr": "Tour", "en": ["Tower"]}}),
    make("urn:x:3", owner={"type": "Relationship", "object": ["urn:p:1", "urn:p:3"]}),
    make("urn:x:4", kind={"type": "VocabProperty", "vocab": "https://example.org/Short"}),
    make("urn:x:5", typed={"value": {"@value": "2025-01-01", "@type": "DateTime"}}, nested={"value": {"a": 2}}),
    make("urn:x:6", speed=[{"type": "Property", "value": 30}, {"type": "Property", "value": 90, "datasetId": "urn:d"}]),
]


async def _rows(store: EntityStore) -> set[tuple[Any, ...]]:
    sql = "SELECT tenant, attr, seq, num, txt FROM entity_values"
    if hasattr(store, "db"):
        return {tuple(r) for r in store.db.execute(sql).fetchall()}
    return {tuple(r) for r in await store.pool.fetch(sql)}  # type: ignore[attr-defined]


async def _run(store: EntityStore, sql: str) -> None:
    if hasattr(store, "db"):
        store.db.execute(sql)
    else:
        await store.pool.execute(sql)  # type: ignore[attr-defined]


async def _backfilled(store: EntityStore) -> set[tuple[Any, ...]]:
    """The rows the migration's backfill computes from the stored entities."""
    backend = "sqlite" if hasattr(store, "db") else "postgres"
    migration = resources.files(f"dosi.store.sql.{backend}").joinpath("0007_entity_values.sql").read_text()
    backfill = migration[migration.index("INSERT INTO entity_values") :]
    await _run(store, "DELETE FROM entity_values")
    await _run(store, backfill)
    return await _rows(store)


async def test_backfill_matches_what_writes_record(store: EntityStore) -> None:
    await put(store, *ENTITIES)
    written = await _rows(store)
    names = {r[1].rsplit("/", 1)[-1] for r in written}
    assert names == {"height", "name", "tags", "label", "owner", "kind", "typed", "speed"}  # not open, not nested
    assert await _backfilled(store) == written


async def test_replacements_keep_the_index_true(store: EntityStore) -> None:
    await put(store, *ENTITIES)
    before = await _rows(store)
    async with store.transaction("") as tx:  # the same values, written again later: the rows stay
        for entity in copy.deepcopy(ENTITIES):
            stamp_entity(entity, "2026-02-01T00:00:00.000000Z")
            await tx.replace(entity)
    assert await _rows(store) == before
    async with store.transaction("") as tx:  # every kind of value changes
        for entity in CHANGED:
            await tx.replace(entity)
    written = await _rows(store)
    assert written != before
    assert await _backfilled(store) == written
