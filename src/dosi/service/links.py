"""Fetching the entities that Relationships point to (for join=inline|flat)."""

from __future__ import annotations

from dosi.ngsild.join import relationship_targets
from dosi.security.context import current, fenced
from dosi.security.policy import Access
from dosi.store.base import Entity, EntityQuery, EntityStore


async def linked_entities(
    store: EntityStore, tenant: str, roots: list[Entity], level: int, access: Access | None = None
) -> dict[str, Entity]:
    """Entities reachable from `roots` through Relationships, up to `level` hops (one query per hop), among those
    `access` may read (by default the current request's)."""
    access = access or current()
    found: dict[str, Entity] = {}
    frontier = roots
    for _ in range(level):
        wanted = list(dict.fromkeys(t for e in frontier for t in relationship_targets(e) if t not in found))
        if not wanted:
            break
        query = fenced(EntityQuery(tenant=tenant, ids=wanted, limit=len(wanted)), access=access)
        fetched = [access.project("read", e) for e in (await store.query(query)).entities]
        found.update({e["id"]: e for e in fetched})
        frontier = fetched
    return found
