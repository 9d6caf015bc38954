"""The value index that q runs on: what a write records equals what the migration's backfill computes."""

from __future__ import annotations

from importlib import resources
from typing import Any

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


async def test_backfill_matches_what_writes_record(store: EntityStore) -> None:
    await put(store, *ENTITIES)
    written = await _rows(store)
    names = {r[1].rsplit("/", 1)[-1] for r in written}
    assert names == {"height", "name", "tags", "label", "owner", "kind", "typed", "speed"}  # not open, not nested
    backend = "sqlite" if hasattr(store, "db") else "postgres"
    migration = resources.files(f"dosi.store.sql.{backend}").joinpath("0007_entity_values.sql").read_text()
    backfill = migration[migration.index("INSERT INTO entity_values") :]
    await _run(store, "DELETE FROM entity_values")
    await _run(store, backfill)
    assert await _rows(store) == written
