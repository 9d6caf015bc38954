"""/entityOperations: batch create, upsert, update, merge, delete, and query by POST."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dosi.api.hub import Hub
from dosi.api.negotiation import (
    JSON,
    Incoming,
    NgsiResponse,
    body_context,
    choose_accept,
    incoming,
    ld_only_checks,
    read_json,
)
from dosi.api.present import list_response
from dosi.api.routes.common import POST_QUERY_PARAMS, hub_of, tenant_for_read
from dosi.errors import BadRequestData, DosiError
from dosi.service.batch import BatchResult, Item
from dosi.service.params import parse_selector, query_body_params


async def _items(hub: Hub, inc: Incoming) -> list[Item]:
    body = await read_json(inc, hub.settings.max_body_bytes)
    ld_only_checks(inc)
    if not isinstance(body, list) or not body:
        raise BadRequestData("a batch body must be a non-empty array of entities")
    items: list[Item] = []
    for entity in body:
        try:
            if not isinstance(entity, dict):
                raise BadRequestData("each batch item must be an entity object")
            ctx = await hub.contexts.resolve(body_context(inc, entity, per_item=True))
            items.append((entity, ctx))
        except DosiError as err:
            items.append((entity, err))
    return items


def _answer(result: BatchResult, created_status: bool) -> Response:
    if result.errors:
        return NgsiResponse(result.body(), 207, media=JSON)
    if created_status:
        return NgsiResponse(result.success, 201, media=JSON)
    return Response(status_code=204)


async def batch_create(request: Request) -> Response:
    hub = hub_of(request)
    inc = incoming(request, ("options", "local"))
    result = await hub.batch.create(inc.tenant, await _items(hub, inc))
    return _answer(result, created_status=True)


async def batch_upsert(request: Request) -> Response:
    hub = hub_of(request)
    inc = incoming(request, ("options", "local"))
    option = inc.params.get("options", "replace")
    if option not in ("replace", "update"):
        raise BadRequestData("options must be replace or update")
    result = await hub.batch.upsert(inc.tenant, await _items(hub, inc), replace=option == "replace")
    if result.errors or not result.created:
        return _answer(result, created_status=False)
    return NgsiResponse(result.created, 201, media=JSON)


async def batch_update(request: Request) -> Response:
    hub = hub_of(request)
    inc = incoming(request, ("options", "local"))
    overwrite = "noOverwrite" not in inc.params.get("options", "")
    result = await hub.batch.update(inc.tenant, await _items(hub, inc), overwrite)
    return _answer(result, created_status=False)


async def batch_merge(request: Request) -> Response:
    hub = hub_of(request)
    inc = incoming(request, ("options", "local"))
    result = await hub.batch.merge(inc.tenant, await _items(hub, inc))
    return _answer(result, created_status=False)


async def batch_delete(request: Request) -> Response:
    hub = hub_of(request)
    inc = incoming(request, ("local",))
    body = await read_json(inc, hub.settings.max_body_bytes)
    if not isinstance(body, list) or not body:
        raise BadRequestData("a batch delete body must be a non-empty array of entity ids")
    result = await hub.batch.delete(inc.tenant, body)
    return _answer(result, created_status=False)


async def query_by_post(request: Request) -> Response:
    hub = hub_of(request)
    inc = incoming(request, POST_QUERY_PARAMS + ("geometryProperty", "join", "joinLevel", "pick", "omit", "orderBy"))
    media = choose_accept(request.headers.get("accept"), geo=True)
    body = await read_json(inc, hub.settings.max_body_bytes)
    ctx_value = body_context(inc, body)
    ctx = await hub.contexts.resolve(ctx_value)
    params: dict[str, Any] = {**inc.params, **query_body_params(body)}
    selectors = params.pop("_selectors", None)
    view = hub.queries.view(ctx, params)
    query = hub.queries.query(inc.tenant, ctx, params, require_filter=selectors is None)
    if selectors is not None:
        query.selectors = [parse_selector(ctx, s) for s in selectors]
    await tenant_for_read(hub, inc.tenant)
    result = await hub.entities.query(query)
    linked = await hub.entities.linked(inc.tenant, result.entities, view.join_level) if view.join else {}
    headers = {"NGSILD-Results-Count": str(result.count)} if result.count is not None else None
    return list_response(result.entities, ctx, view, media, ctx_value, linked, headers)


routes = [
    Route("/entityOperations/create", batch_create, methods=["POST"]),
    Route("/entityOperations/upsert", batch_upsert, methods=["POST"]),
    Route("/entityOperations/update", batch_update, methods=["POST"]),
    Route("/entityOperations/merge", batch_merge, methods=["POST"]),
    Route("/entityOperations/delete", batch_delete, methods=["POST"]),
    Route("/entityOperations/query", query_by_post, methods=["POST"]),
]
