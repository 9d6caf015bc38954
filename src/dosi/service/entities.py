"""Entity use cases: create, retrieve, query, replace, merge, delete and the attribute operations.

No HTTP and no SQL here: callers give parsed payloads and an active @context; the
store does the persistence inside one transaction per operation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dosi.errors import BadRequestData, DosiError, ResourceNotFound
from dosi.ngsild.context import ActiveContext
from dosi.ngsild.model import is_uri, now_iso
from dosi.ngsild.parse import Parser, parse_scope, parse_types
from dosi.security.context import count_rows, current, fenced
from dosi.service import merge as rules
from dosi.service.links import linked_entities
from dosi.service.notify import Notifier
from dosi.store.base import Entity, EntityQuery, EntityStore, QueryResult


def check_id(entity_id: str) -> str:
    if not is_uri(entity_id):
        raise BadRequestData(f"{entity_id!r} is not a valid entity id (a URI is required)")
    return entity_id


@dataclass
class UpdateResult:
    updated: list[str] = field(default_factory=list)
    not_updated: list[dict[str, str]] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        return {"updated": self.updated, "notUpdated": self.not_updated}


class EntityService:
    def __init__(self, store: EntityStore, notifier: Notifier):
        self.store = store
        self.notifier = notifier

    # -- create / retrieve / query --------------------------------------
    async def create(self, tenant: str, ctx: ActiveContext, body: Any, key_values: bool = False) -> str:
        now = now_iso()
        entity = Parser(ctx, now, key_values).entity(body)
        rules.stamp_entity(entity, now)
        async with self.notifier.write(tenant) as tx:
            await tx.create(entity)
        return str(entity["id"])

    async def retrieve(self, tenant: str, entity_id: str) -> Entity:
        """The entity, if the request may read it (one it may not read is not found, like a missing one)."""
        check_id(entity_id)
        if current().unlimited("read"):
            entity = await self.store.get(tenant, entity_id)
            count_rows(0 if entity is None else 1)
        else:  # through the fenced query
            found = await self.query(EntityQuery(tenant=tenant, ids=[entity_id], limit=1))
            entity = found.entities[0] if found.entities else None
        if entity is None:
            raise ResourceNotFound(f"entity {entity_id} not found")
        return entity

    async def query(self, query: EntityQuery) -> QueryResult:
        """Entities matching the query within what the request may read, each showing only readable attributes."""
        access = current()
        if access.unlimited("read"):
            result = await self.store.query(query)
        else:
            result = await self.store.query(fenced(query))
            result.entities = [access.project("read", e) for e in result.entities]
        count_rows(len(result.entities))
        return result

    async def get_many(self, tenant: str, ids: list[str]) -> dict[str, Entity]:
        if not ids:
            return {}
        result = await self.query(EntityQuery(tenant=tenant, ids=ids, limit=len(ids)))
        return {e["id"]: e for e in result.entities}

    async def linked(self, tenant: str, roots: list[Entity], level: int) -> dict[str, Entity]:
        return await linked_entities(self.store, tenant, roots, level)

    # -- whole-entity changes ------------------------------------------
    async def delete(self, tenant: str, entity_id: str) -> None:
        check_id(entity_id)
        async with self.notifier.write(tenant) as tx:
            if not await tx.delete(entity_id):
                raise ResourceNotFound(f"entity {entity_id} not found")

    async def replace(self, tenant: str, ctx: ActiveContext, entity_id: str, body: Any) -> None:
        check_id(entity_id)
        if not isinstance(body, dict):
            raise BadRequestData("an entity must be a JSON object")
        if body.get("id", entity_id) != entity_id:
            raise BadRequestData("the id in the body differs from the id in the path")
        now = now_iso()
        new = Parser(ctx, now).entity({**body, "id": entity_id})
        async with self.notifier.write(tenant) as tx:
            old = await tx.get(entity_id)
            if old is None:
                raise ResourceNotFound(f"entity {entity_id} not found")
            new["createdAt"] = old["createdAt"]
            rules.stamp_entity(new, now)
            await tx.replace(new)

    async def merge(self, tenant: str, ctx: ActiveContext, entity_id: str, body: Any) -> None:
        check_id(entity_id)
        if not isinstance(body, dict):
            raise BadRequestData("a merge body must be a JSON object")
        if body.get("id", entity_id) != entity_id:
            raise BadRequestData("the id in the body differs from the id in the path")
        now = now_iso()
        patch = Parser(ctx, now, allow_null=True).entity({**body, "id": entity_id}, require_type=False)
        async with self.notifier.write(tenant) as tx:
            entity = await tx.get(entity_id)
            if entity is None:
                raise ResourceNotFound(f"entity {entity_id} not found")
            self._merge_into(entity, patch, now)
            await tx.replace(entity)

    @staticmethod
    def _merge_into(entity: Entity, patch: Entity, now: str) -> None:
        for type_iri in patch.get("type", []):
            if type_iri not in entity["type"]:
                entity["type"].append(type_iri)
        if "scope" in patch:
            entity["scope"] = patch["scope"]
        for iri, instances in patch["attrs"].items():
            rules.merge_attribute(entity, iri, instances, now)
        entity["modifiedAt"] = now

    # -- attributes -----------------------------------------------------
    async def append(
        self, tenant: str, ctx: ActiveContext, entity_id: str, body: Any, overwrite: bool = True
    ) -> UpdateResult:
        check_id(entity_id)
        fragment, now = self._fragment(ctx, body)
        result = UpdateResult()
        async with self.notifier.write(tenant) as tx:
            entity = await tx.get(entity_id)
            if entity is None:
                raise ResourceNotFound(f"entity {entity_id} not found")
            self._add_types(entity, fragment)
            if "scope" in fragment:
                if overwrite or "scope" not in entity:
                    entity["scope"] = fragment["scope"]
                else:
                    entity["scope"] = entity["scope"] + [s for s in fragment["scope"] if s not in entity["scope"]]
            self._append_attrs(entity, fragment, now, overwrite, result)
            entity["modifiedAt"] = now
            await tx.replace(entity)
        return result

    @staticmethod
    def _append_attrs(entity: Entity, fragment: Entity, now: str, overwrite: bool, result: UpdateResult) -> None:
        for iri, instances in fragment["attrs"].items():
            added = True
            for inst in instances:
                if rules.is_null(inst):
                    continue
                added = rules.put_instance(entity, iri, inst, now, overwrite) and added
            if added:
                result.updated.append(iri)
            else:
                result.not_updated.append(
                    {"attributeName": iri, "reason": "the attribute exists and noOverwrite is set"}
                )

    async def update_attrs(self, tenant: str, ctx: ActiveContext, entity_id: str, body: Any) -> UpdateResult:
        """PATCH /entities/{id}/attrs: update attributes (absent ones are added), merge-style."""
        check_id(entity_id)
        fragment, now = self._fragment(ctx, body, allow_null=True)
        result = UpdateResult()
        async with self.notifier.write(tenant) as tx:
            entity = await tx.get(entity_id)
            if entity is None:
                raise ResourceNotFound(f"entity {entity_id} not found")
            self._add_types(entity, fragment)
            if "scope" in fragment:
                if "scope" in entity:
                    entity["scope"] = fragment["scope"]
                    result.updated.append("scope")
                else:
                    result.not_updated.append({"attributeName": "scope", "reason": "the entity has no scope"})
            for iri, instances in fragment["attrs"].items():
                rules.merge_attribute(entity, iri, instances, now)
                result.updated.append(iri)
            entity["modifiedAt"] = now
            await tx.replace(entity)
        return result

    async def partial_update(self, tenant: str, ctx: ActiveContext, entity_id: str, attr: str, body: Any) -> None:
        check_id(entity_id)
        iri = self._attr_iri(ctx, attr)
        if not isinstance(body, dict) or not body:
            raise BadRequestData("an attribute fragment must be a non-empty JSON object")
        now = now_iso()
        explicit_type = body.get("type")
        parser = Parser(ctx, now, allow_null=True, partial=True)
        async with self.notifier.write(tenant) as tx:
            entity = await tx.get(entity_id)
            if entity is None:
                raise ResourceNotFound(f"entity {entity_id} not found")
            existing = entity["attrs"].get(iri)
            if not existing:
                raise ResourceNotFound("the entity has no such attribute")
            stored_type = existing[0].get("type", "Property")
            typed = dict(body)
            typed.setdefault("type", stored_type)
            if explicit_type is not None and explicit_type != stored_type:
                raise BadRequestData(f"the attribute is a {stored_type}, the fragment a {explicit_type}")
            fragment = parser.instance(iri, typed)
            rules.partial_update(entity, iri, fragment, now)
            entity["modifiedAt"] = now
            await tx.replace(entity)

    async def replace_attr(self, tenant: str, ctx: ActiveContext, entity_id: str, attr: str, body: Any) -> None:
        check_id(entity_id)
        iri = self._attr_iri(ctx, attr)
        if attr in ("scope", "type", "id") or iri.endswith("/scope"):
            raise BadRequestData(f"{attr!r} cannot be replaced as an attribute")
        now = now_iso()
        if isinstance(body, dict) and attr in body and len(body) == 1 + ("@context" in body):
            body = body[attr]
        if isinstance(body, dict):
            body = {k: v for k, v in body.items() if k != "@context"}
        instances = Parser(ctx, now).instances(iri, body)
        async with self.notifier.write(tenant) as tx:
            entity = await tx.get(entity_id)
            if entity is None:
                raise ResourceNotFound(f"entity {entity_id} not found")
            rules.replace_attribute(entity, iri, instances, now)
            entity["modifiedAt"] = now
            await tx.replace(entity)

    async def delete_attr(
        self,
        tenant: str,
        ctx: ActiveContext,
        entity_id: str,
        attr: str,
        dataset_id: str | None,
        delete_all: bool,
    ) -> None:
        check_id(entity_id)
        iri = self._attr_iri(ctx, attr)
        if dataset_id is not None and not is_uri(dataset_id):
            raise BadRequestData("datasetId must be a URI")
        now = now_iso()
        async with self.notifier.write(tenant) as tx:
            entity = await tx.get(entity_id)
            if entity is None:
                raise ResourceNotFound(f"entity {entity_id} not found")
            if attr == "scope" or iri == ctx.expand("scope"):
                if "scope" not in entity:
                    raise ResourceNotFound("the entity has no scope")
                del entity["scope"]
            else:
                rules.delete_instance(entity, iri, dataset_id, delete_all)
            entity["modifiedAt"] = now
            await tx.replace(entity)

    # -- purge ----------------------------------------------------------
    async def purge(self, query: EntityQuery, keep: list[str] | None, drop: list[str] | None) -> int:
        fenced(query, "delete")
        async with self.notifier.write(query.tenant) as tx:
            if keep is None and drop is None:
                if not tx.listening:
                    return await tx.delete_matching(query)
                # subscriptions listen: delete one by one so that each deletion is notified
                query.limit = 1 << 62
                matching = (await self.store.query(query)).entities
                for entity in matching:
                    await tx.delete(entity["id"])
                return len(matching)
            # keep/drop remove attributes: read the matching entities and rewrite them
            query.limit = 1 << 62
            result = await self.store.query(query)
            now = now_iso()
            for entity in result.entities:
                for iri in list(entity["attrs"]):
                    if (keep is not None and iri not in keep) or (drop is not None and iri in drop):
                        del entity["attrs"][iri]
                entity["modifiedAt"] = now
                await tx.replace(entity)
            return len(result.entities)

    # -- helpers --------------------------------------------------------
    @staticmethod
    def _attr_iri(ctx: ActiveContext, attr: str) -> str:
        if not attr:
            raise BadRequestData("the attribute name is missing")
        return Parser(ctx, "").attr_name(attr)

    @staticmethod
    def _fragment(ctx: ActiveContext, body: Any, allow_null: bool = False) -> tuple[Entity, str]:
        if not isinstance(body, dict):
            raise BadRequestData("the attributes must be a JSON object")
        now = now_iso()
        parser = Parser(ctx, now, allow_null=allow_null)
        fragment: Entity = {}
        if "type" in body:
            fragment["type"] = parse_types(ctx, body["type"])
        if "scope" in body:
            fragment["scope"] = parse_scope(body["scope"])
        fragment["attrs"] = parser.attributes(body, skip=frozenset({"@context", "id", "type", "scope"}))
        return fragment, now

    @staticmethod
    def _add_types(entity: Entity, fragment: Entity) -> None:
        for type_iri in fragment.get("type", []):
            if type_iri not in entity["type"]:
                entity["type"].append(type_iri)


def error_entry(entity_id: Any, error: DosiError) -> dict[str, Any]:
    return {"entityId": entity_id, "error": error.problem()}
