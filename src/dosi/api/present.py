"""Turning stored entities into answers: representation, projection, GeoJSON and @context."""

from __future__ import annotations

from typing import Any

from dosi.api.negotiation import GEOJSON, JSON, NgsiResponse
from dosi.errors import ResourceNotFound
from dosi.ngsild.context import ActiveContext
from dosi.ngsild.render import Renderer, View
from dosi.store.base import Entity


def entity_response(
    entity: Entity, ctx: ActiveContext, view: View, media: str, context: Any
) -> NgsiResponse:
    renderer = Renderer(ctx, view)
    if view.attrs is not None and not any(iri in view.attrs for iri in entity.get("attrs", {})):
        raise ResourceNotFound("the entity has none of the requested attributes")
    if media == GEOJSON:
        feature = renderer.feature(entity)
        return NgsiResponse(feature, media=GEOJSON, context=context)
    body = renderer.entity(entity)
    if not body:
        raise ResourceNotFound("nothing of the entity is left after pick/omit")
    return NgsiResponse(body, media=media, context=context)


def list_response(
    entities: list[Entity],
    ctx: ActiveContext,
    view: View,
    media: str,
    context: Any,
    headers: dict[str, str] | None = None,
) -> NgsiResponse:
    renderer = Renderer(ctx, view)
    if media == GEOJSON:
        features = [renderer.feature(e) for e in entities]
        collection = {"type": "FeatureCollection", "features": features}
        return NgsiResponse(collection, media=GEOJSON, context=context, headers=headers)
    bodies = [body for body in renderer.many(entities) if body]
    embed = "none" if media == JSON else "each"
    return NgsiResponse(bodies, media=media, context=context, headers=headers, embed=embed)
