"""Turning stored entities into answers: representation, projection, linked entities, GeoJSON, @context."""

from __future__ import annotations

from typing import Any

from dosi.api.negotiation import GEOJSON, JSON, NgsiResponse
from dosi.errors import ResourceNotFound
from dosi.ngsild.context import ActiveContext
from dosi.ngsild.join import Joiner
from dosi.ngsild.render import Renderer, View
from dosi.store.base import Entity


def _joiner(ctx: ActiveContext, view: View, linked: dict[str, Entity]) -> Joiner:
    return Joiner(lambda v: Renderer(ctx, v), linked, view.join_level)


def entity_response(
    entity: Entity, ctx: ActiveContext, view: View, media: str, context: Any, linked: dict[str, Entity]
) -> NgsiResponse:
    renderer = Renderer(ctx, view)
    if (
        view.attrs is not None
        and view.pick_members is None
        and not any(iri in view.attrs for iri in entity.get("attrs", {}))
    ):
        raise ResourceNotFound("the entity has none of the requested attributes")
    if media == GEOJSON:
        return NgsiResponse(renderer.feature(entity), media=GEOJSON, context=context)
    body: Any
    if view.join == "flat":
        flat = _joiner(ctx, view, linked).flat([entity], view)
        body = flat if len(flat) > 1 else (flat[0] if flat else {})
    elif view.join == "inline":
        body = _joiner(ctx, view, linked).inline(entity, view)
    else:
        body = renderer.entity(entity)
    if not body:
        raise ResourceNotFound("nothing of the entity is left after pick/omit")
    embed = "each" if isinstance(body, list) else "object"
    return NgsiResponse(body, media=media, context=context, embed=embed)


def list_response(
    entities: list[Entity],
    ctx: ActiveContext,
    view: View,
    media: str,
    context: Any,
    linked: dict[str, Entity],
    headers: dict[str, str] | None = None,
) -> NgsiResponse:
    renderer = Renderer(ctx, view)
    if media == GEOJSON:
        features = [renderer.feature(e) for e in entities]
        collection = {"type": "FeatureCollection", "features": features}
        return NgsiResponse(collection, media=GEOJSON, context=context, headers=headers)
    if view.join == "flat":
        bodies = _joiner(ctx, view, linked).flat(entities, view)
    elif view.join == "inline":
        joiner = _joiner(ctx, view, linked)
        bodies = [joiner.inline(e, view) for e in entities]
    else:
        bodies = renderer.many(entities)
    bodies = [body for body in bodies if body]
    embed = "none" if media == JSON else "each"
    return NgsiResponse(bodies, media=media, context=context, headers=headers, embed=embed)
