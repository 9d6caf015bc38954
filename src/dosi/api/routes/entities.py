"""/entities and /entities/{id}/attrs: parse -> service -> render."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dosi.api.negotiation import (
    JSON,
    Incoming,
    NgsiResponse,
    body_context,
    choose_accept,
    incoming,
    read_json,
)
from dosi.api.present import entity_response, list_response
from dosi.api.routes.common import hub_of, resolve_body_context, tenant_for_read
from dosi.errors import BadRequestData, InvalidRequest

VIEW_PARAMS = (
    "attrs",
    "options",
    "format",
    "lang",
    "geometryProperty",
    "pick",
    "omit",
    "datasetId",
    "join",
    "joinLevel",
    "containedBy",
    "local",
    "type",
    "via",
    "entityMap",
)
QUERY_PARAMS = VIEW_PARAMS + (
    "id",
    "idPattern",
    "q",
    "scopeQ",
    "georel",
    "geometry",
    "coordinates",
    "geoproperty",
    "limit",
    "offset",
    "count",
    "csf",
    "expandValues",
    "orderBy",
    "collation",
    "splitEntities",
)
PURGE_PARAMS = (
    "id",
    "idPattern",
    "type",
    "q",
    "scopeQ",
    "georel",
    "geometry",
    "coordinates",
    "geoproperty",
    "local",
    "keep",
    "drop",
    "attrs",
)


def no_content() -> Response:
    return Response(status_code=204)


async def create_entity(request: Request) -> Response:
    hub = hub_of(request)
    inc = incoming(request, ("options", "local"))
    body = await read_json(inc, hub.settings.max_body_bytes)
    if not isinstance(body, dict):
        raise InvalidRequest("an entity must be a JSON object")
    ctx = await resolve_body_context(hub, inc, body)
    form = inc.params.get("options", "")
    entity_id = await hub.entities.create(inc.tenant, ctx, body, key_values="keyValues" in form)
    return Response(status_code=201, headers={"Location": f"/ngsi-ld/v1/entities/{entity_id}"})


async def query_entities(request: Request) -> Response:
    hub = hub_of(request)
    inc = incoming(request, QUERY_PARAMS)
    media = choose_accept(request.headers.get("accept"), geo=True)
    ctx = await hub.contexts.resolve(inc.link)
    view = hub.queries.view(ctx, inc.params)
    query = hub.queries.query(inc.tenant, ctx, inc.params)
    await tenant_for_read(hub, inc.tenant)
    result = await hub.entities.query(query)
    linked = await hub.entities.linked(inc.tenant, result.entities, view.join_level) if view.join else {}
    headers = {"NGSILD-Results-Count": str(result.count)} if result.count is not None else None
    return list_response(result.entities, ctx, view, media, inc.link, linked, headers)


async def purge_entities(request: Request) -> Response:
    hub = hub_of(request)
    inc = incoming(request, PURGE_PARAMS)
    if "keep" in inc.params and "drop" in inc.params:
        raise BadRequestData("keep and drop cannot be used together")
    ctx = await hub.contexts.resolve(inc.link)
    query = hub.queries.query(inc.tenant, ctx, {**inc.params, "limit": "0", "count": "true"}, require_filter=False)
    if not query.has_filter() and inc.params.get("local") != "true":
        raise BadRequestData("purging needs at least one filter")
    keep = [ctx.expand(n) for n in inc.params["keep"].split(",")] if "keep" in inc.params else None
    drop = [ctx.expand(n) for n in inc.params["drop"].split(",")] if "drop" in inc.params else None
    await hub.entities.purge(query, keep, drop)
    return no_content()


async def missing_id(request: Request) -> Response:
    raise BadRequestData("the entity id is missing from the path")


async def retrieve_entity(request: Request) -> Response:
    hub = hub_of(request)
    inc = incoming(request, VIEW_PARAMS)
    media = choose_accept(request.headers.get("accept"), geo=True)
    ctx = await hub.contexts.resolve(inc.link)
    view = hub.queries.view(ctx, inc.params)
    entity = await hub.entities.retrieve(inc.tenant, request.path_params["id"])
    linked = await hub.entities.linked(inc.tenant, [entity], view.join_level) if view.join else {}
    return entity_response(entity, ctx, view, media, inc.link, linked)


async def delete_entity(request: Request) -> Response:
    hub = hub_of(request)
    inc = incoming(request, ("type", "local"))
    await hub.entities.delete(inc.tenant, request.path_params["id"])
    return no_content()


async def replace_entity(request: Request) -> Response:
    hub, inc, body, ctx = await _write_request(request, ())
    await hub.entities.replace(inc.tenant, ctx, request.path_params["id"], body)
    return no_content()


async def merge_entity(request: Request) -> Response:
    hub, inc, body, ctx = await _write_request(
        request, ("options", "format", "local", "observedAt", "lang"), merge_patch=True
    )
    await hub.entities.merge(inc.tenant, ctx, request.path_params["id"], body)
    return no_content()


async def append_attrs(request: Request) -> Response:
    hub, inc, body, ctx = await _write_request(request, ("options",))
    overwrite = "noOverwrite" not in inc.params.get("options", "")
    result = await hub.entities.append(inc.tenant, ctx, request.path_params["id"], body, overwrite)
    if result.not_updated:
        return NgsiResponse(result.body(), 207, media=JSON)
    return no_content()


async def update_attrs(request: Request) -> Response:
    hub, inc, body, ctx = await _write_request(request, ("options",), merge_patch=True)
    result = await hub.entities.update_attrs(inc.tenant, ctx, request.path_params["id"], body)
    if result.not_updated:
        return NgsiResponse(result.body(), 207, media=JSON)
    return no_content()


async def partial_update_attr(request: Request) -> Response:
    hub, inc, body, ctx = await _write_request(request, ("options",), merge_patch=True)
    params = request.path_params
    await hub.entities.partial_update(inc.tenant, ctx, params["id"], params["attr"], body)
    return no_content()


async def replace_attr(request: Request) -> Response:
    hub, inc, body, ctx = await _write_request(request, ())
    params = request.path_params
    await hub.entities.replace_attr(inc.tenant, ctx, params["id"], params["attr"], body)
    return no_content()


async def delete_attr(request: Request) -> Response:
    hub = hub_of(request)
    inc = incoming(request, ("datasetId", "deleteAll", "lang"))
    ctx = await hub.contexts.resolve(inc.link)
    delete_all = inc.params.get("deleteAll", "false")
    if delete_all not in ("true", "false"):
        raise BadRequestData("deleteAll must be true or false")
    params = request.path_params
    await hub.entities.delete_attr(
        inc.tenant, ctx, params["id"], params["attr"], inc.params.get("datasetId"), delete_all == "true"
    )
    return no_content()


async def _write_request(
    request: Request, allowed: tuple[str, ...], merge_patch: bool = False
) -> tuple[Any, Incoming, Any, Any]:
    hub = hub_of(request)
    inc = incoming(request, allowed)
    body = await read_json(inc, hub.settings.max_body_bytes, merge_patch)
    body_context(inc, body)
    ctx = await resolve_body_context(hub, inc, body)
    return hub, inc, body, ctx


routes = [
    Route("/entities", query_entities, methods=["GET"]),
    Route("/entities", create_entity, methods=["POST"]),
    Route("/entities", purge_entities, methods=["DELETE"]),
    Route("/entities", missing_id, methods=["PUT", "PATCH"]),
    Route("/entities/{id:seg}", retrieve_entity, methods=["GET"]),
    Route("/entities/{id:seg}", replace_entity, methods=["PUT"]),
    Route("/entities/{id:seg}", merge_entity, methods=["PATCH"]),
    Route("/entities/{id:seg}", delete_entity, methods=["DELETE"]),
    Route("/entities/{id:seg}/attrs", append_attrs, methods=["POST"]),
    Route("/entities/{id:seg}/attrs", update_attrs, methods=["PATCH"]),
    Route("/entities/{id:seg}/attrs/{attr:seg}", partial_update_attr, methods=["PATCH"]),
    Route("/entities/{id:seg}/attrs/{attr:seg}", replace_attr, methods=["PUT"]),
    Route("/entities/{id:seg}/attrs/{attr:seg}", delete_attr, methods=["DELETE"]),
]
