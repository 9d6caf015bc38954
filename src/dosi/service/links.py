"""Fetching the entities that Relationships point to (for join=inline|flat)."""

from __future__ import annotations

from dosi.ngsild.join import relationship_targets
from dosi.store.base import Entity, EntityQuery, EntityStore


async def linked_entities(store: EntityStore, tenant: str, roots: list[Entity], level: int) -> dict[str, Entity]:
    """Entities reachable from `roots` through Relationships, up to `level` hops (one query per hop)."""
    found: dict[str, Entity] = {}
    frontier = roots
    for _ in range(level):
        wanted = list(dict.fromkeys(t for e in frontier for t in relationship_targets(e) if t not in found))
        if not wanted:
            break
        fetched = (await store.query(EntityQuery(tenant=tenant, ids=wanted, limit=len(wanted)))).entities
        found.update({e["id"]: e for e in fetched})
        frontier = fetched
    return found
