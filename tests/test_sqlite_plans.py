"""The plans SQLite picks for entity queries. It keeps no statistics, so it guesses how many rows a condition
matches, and a wrong guess turns a lookup into a walk of every entity of the tenant."""

from __future__ import annotations

import time

import pytest

from dosi.ngsild.query import TypeExpr
from dosi.ngsild.temporal import iso
from dosi.store.base import EntityQuery, EntityStore
from dosi.store.sqlite import SqliteStore
from tests.contract.test_history import NOW, PARKING, STATION

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def _plan_of(store: SqliteStore, query: EntityQuery) -> tuple[list[str], list[str]]:
    """(ids found, the plan of the statement that listed them)."""
    statements: list[str] = []
    store.db.set_trace_callback(statements.append)
    found = await store.query(query)
    store.db.set_trace_callback(None)
    (listing,) = [s for s in statements if s.startswith("SELECT e.doc")]
    return [e["id"] for e in found.entities], [row[3] for row in store.db.execute("EXPLAIN QUERY PLAN " + listing)]


@pytest.mark.parametrize("types", [None, TypeExpr(((STATION,),))])
async def test_a_list_of_ids_is_looked_up_on_the_id_index(store: EntityStore, types: TypeExpr | None) -> None:
    # The ingest writer reads the entities of each batch by id. SQLite took `tenant = ?` for a few rows and
    # walked the whole tenant in seq order (the first page's order) instead: 1.3 s for 500 ids among a million
    # entities, 80% of an MQTT ingest's time.
    assert isinstance(store, SqliteStore)
    async with store.transaction("") as tx:
        for n in range(20):
            etype = STATION if n % 2 else PARKING
            await tx.insert(
                {"id": f"urn:e:{n}", "type": [etype], "createdAt": iso(NOW), "modifiedAt": iso(NOW), "attrs": {}}
            )
    # among a million entities the walk was taken for two ids; among twenty, a hundred ids are enough to get it
    wanted = ["urn:e:7", "urn:e:3", "urn:e:4", *(f"urn:e:missing:{n}" for n in range(100))]
    found, plan = await _plan_of(store, EntityQuery(tenant="", ids=wanted, types=types, limit=10))
    assert found == (["urn:e:3", "urn:e:7"] if types else ["urn:e:3", "urn:e:4", "urn:e:7"])  # in creation order
    assert plan[0].startswith("SEARCH e USING INDEX entities_tenant_id (tenant=? AND id=?"), plan
    assert not any("entities_tenant_seq" in step or "SCAN" in step for step in plan), plan
    # the type is checked per entity found: listing every entity of the type took 250 ms for a type of 250,000
    assert not any("LIST SUBQUERY" in step for step in plan), plan


async def test_a_claim_walks_only_the_due_rows_of_the_outbox(store: EntityStore) -> None:
    # Ordered by seq, a claim walked every retry still waiting before it found a due row: 16 ms a claim, under
    # the write lock, behind 200,000 notifications to a receiver that was down.
    assert isinstance(store, SqliteStore)
    statements: list[str] = []
    store.db.set_trace_callback(statements.append)
    assert await store.claim_outbox(time.time(), 15, 64, iso(NOW)) == []
    store.db.set_trace_callback(None)
    (claim,) = [s for s in statements if s.startswith("UPDATE outbox")]
    plan = [row[3] for row in store.db.execute("EXPLAIN QUERY PLAN " + claim)]
    assert any(step.startswith("SEARCH outbox USING INDEX outbox_due (next_at<?)") for step in plan), plan
    assert not any(step.startswith("SCAN outbox") or "TEMP B-TREE" in step for step in plan), plan


async def test_an_attribute_few_entities_have_is_found_from_its_index(store: EntityStore) -> None:
    # Checked entity by entity while the page walked every entity in order: 150 ms for an attribute that ten
    # entities of 200,000 have. An attribute that many have is still checked on the way (the page stops early).
    assert isinstance(store, SqliteStore)
    async with store.transaction("") as tx:
        for n in range(20):
            attrs = {"https://example.org/rare": [{"type": "Property", "value": 1}]} if n in (4, 9) else {}
            await tx.insert({"id": f"urn:e:{n}", "type": [STATION], "createdAt": iso(NOW), "modifiedAt": iso(NOW),
                             "attrs": attrs})  # fmt: skip
    found, plan = await _plan_of(store, EntityQuery(tenant="", attrs=["https://example.org/rare"], limit=10))
    assert found == ["urn:e:4", "urn:e:9"]
    assert any(step.startswith("SEARCH a USING PRIMARY KEY (tenant=? AND attr=?)") for step in plan), plan
    assert not any(step.endswith("entities_tenant_seq (tenant=?)") for step in plan), plan  # the walk
