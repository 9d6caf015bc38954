"""/subscriptions: create, list, retrieve, update, delete."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dosi.api.negotiation import (
    JSON,
    NgsiResponse,
    body_context,
    choose_accept,
    incoming,
    page_links,
    read_json,
)
from dosi.api.routes.common import hub_of
from dosi.ngsild import subscription as model
from dosi.ngsild.model import now_iso


async def create_subscription(request: Request) -> Response:
    hub = hub_of(request)
    inc = incoming(request, ())
    body = await read_json(inc, hub.settings.max_body_bytes)
    ctx_value = body_context(inc, body)
    ctx = await hub.contexts.resolve(ctx_value)
    sub_id = await hub.subscriptions.create(inc.tenant, ctx, ctx_value, body)
    return Response(status_code=201, headers={"Location": f"/ngsi-ld/v1/subscriptions/{sub_id}"})


async def list_subscriptions(request: Request) -> Response:
    hub = hub_of(request)
    inc = incoming(request, ("limit", "offset", "count", "options"))
    media = choose_accept(request.headers.get("accept"))
    ctx = await hub.contexts.resolve(inc.link)
    query = hub.queries.paging_only(inc.params)
    docs, total = await hub.subscriptions.list(inc.tenant, query.limit, query.offset)
    now = now_iso()
    sys_attrs = "sysAttrs" in inc.params.get("options", "")
    bodies = [model.render(d, ctx, now, sys_attrs) for d in docs]
    headers = {"NGSILD-Results-Count": str(total)} if query.count else None
    links = page_links("/ngsi-ld/v1/subscriptions", query.limit, query.offset, total)
    embed = "none" if media == JSON else "each"
    return NgsiResponse(bodies, media=media, context=inc.link, headers=headers, embed=embed, links=links)


async def retrieve_subscription(request: Request) -> Response:
    hub = hub_of(request)
    inc = incoming(request, ("options",))
    media = choose_accept(request.headers.get("accept"))
    ctx = await hub.contexts.resolve(inc.link)
    doc = await hub.subscriptions.get(inc.tenant, request.path_params["id"])
    sys_attrs = "sysAttrs" in inc.params.get("options", "")
    return NgsiResponse(model.render(doc, ctx, now_iso(), sys_attrs), media=media, context=inc.link)


async def update_subscription(request: Request) -> Response:
    hub = hub_of(request)
    inc = incoming(request, ())
    body = await read_json(inc, hub.settings.max_body_bytes, merge_patch=True)
    ctx = await hub.contexts.resolve(body_context(inc, body))
    await hub.subscriptions.update(inc.tenant, ctx, request.path_params["id"], body)
    return Response(status_code=204)


async def delete_subscription(request: Request) -> Response:
    hub = hub_of(request)
    inc = incoming(request, ())
    await hub.subscriptions.delete(inc.tenant, request.path_params["id"])
    return Response(status_code=204)


routes = [
    Route("/subscriptions", create_subscription, methods=["POST"]),
    Route("/subscriptions", list_subscriptions, methods=["GET"]),
    Route("/subscriptions/{id:seg}", retrieve_subscription, methods=["GET"]),
    Route("/subscriptions/{id:seg}", update_subscription, methods=["PATCH"]),
    Route("/subscriptions/{id:seg}", delete_subscription, methods=["DELETE"]),
]
