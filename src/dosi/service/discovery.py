"""Discovery: /types and /attributes, computed by the store over the entities of a tenant the request may read."""

from __future__ import annotations

import hashlib
from typing import Any

from dosi.errors import ResourceNotFound
from dosi.ngsild.context import ActiveContext
from dosi.security.context import current
from dosi.store.base import AttributeInfo, EntityStore, TypeInfo


def _list_id(kind: str, names: list[str]) -> str:
    digest = hashlib.sha1("\n".join(names).encode()).hexdigest()[:16]
    return f"urn:ngsi-ld:{kind}:{digest}"


class DiscoveryService:
    def __init__(self, store: EntityStore):
        self.store = store

    async def _types(self, tenant: str, type_iri: str | None = None) -> list[TypeInfo]:
        """The types of the entities the request may read, each with the attributes it may read."""
        access = current()
        infos = await self.store.types(tenant, type_iri, access.fence("read"))
        allowed = access.any_attributes("read")
        if allowed is not None:
            for info in infos:
                info.attributes = {a: kinds for a, kinds in info.attributes.items() if a in allowed}
        return infos

    async def _attributes(self, tenant: str, attr_iri: str | None = None) -> list[AttributeInfo]:
        access = current()
        allowed = access.any_attributes("read")
        infos = await self.store.attributes(tenant, attr_iri, access.fence("read"))
        return [info for info in infos if allowed is None or info.attr in allowed]

    async def types(self, tenant: str, ctx: ActiveContext, details: bool) -> Any:
        if not details:
            iris = await self.store.type_names(tenant, current().fence("read"))
            names = sorted(ctx.compact(iri) for iri in iris)
            return {"id": _list_id("EntityTypeList", names), "type": "EntityTypeList", "typeList": names}
        infos = await self._types(tenant)
        return [
            {
                "id": info.type,
                "type": "EntityType",
                "typeName": ctx.compact(info.type),
                "attributeNames": sorted(ctx.compact(a) for a in info.attributes),
            }
            for info in infos
        ]

    async def type_info(self, tenant: str, ctx: ActiveContext, name: str) -> dict[str, Any]:
        iri = ctx.expand(name)
        infos = await self._types(tenant, iri)
        if not infos:
            raise ResourceNotFound(f"no entity of type {name}")
        info = infos[0]
        return {
            "id": info.type,
            "type": "EntityTypeInfo",
            "typeName": ctx.compact(info.type),
            "entityCount": info.count,
            "attributeDetails": [
                {
                    "id": attr,
                    "type": "Attribute",
                    "attributeName": ctx.compact(attr),
                    "attributeTypes": sorted(kinds),
                }
                for attr, kinds in sorted(info.attributes.items())
            ],
        }

    async def attributes(self, tenant: str, ctx: ActiveContext, details: bool) -> Any:
        if not details:
            access = current()
            allowed = access.any_attributes("read")
            iris = await self.store.attribute_names(tenant, access.fence("read"))
            names = sorted(ctx.compact(iri) for iri in iris if allowed is None or iri in allowed)
            return {"id": _list_id("AttributeList", names), "type": "AttributeList", "attributeList": names}
        infos = await self._attributes(tenant)
        return [
            {
                "id": info.attr,
                "type": "Attribute",
                "attributeName": ctx.compact(info.attr),
                "typeNames": sorted(ctx.compact(t) for t in info.types),
            }
            for info in infos
        ]

    async def attribute_info(self, tenant: str, ctx: ActiveContext, name: str) -> dict[str, Any]:
        iri = ctx.expand(name)
        infos = await self._attributes(tenant, iri)
        if not infos:
            raise ResourceNotFound(f"no attribute {name}")
        info = infos[0]
        return {
            "id": info.attr,
            "type": "Attribute",
            "attributeName": ctx.compact(info.attr),
            "attributeCount": info.count,
            "attributeTypes": sorted(info.attribute_types),
            "typeNames": sorted(ctx.compact(t) for t in info.types),
        }
