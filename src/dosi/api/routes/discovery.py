"""/types and /attributes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dosi.api.negotiation import JSONLD, NgsiResponse, choose_accept, incoming
from dosi.api.routes.common import hub_of, tenant_for_read
from dosi.errors import BadRequestData

PARAMS = ("details", "local")


def _details(value: str | None) -> bool:
    if value not in (None, "true", "false"):
        raise BadRequestData("details must be true or false")
    return value == "true"


async def list_types(request: Request) -> Response:
    hub = hub_of(request)
    inc = incoming(request, PARAMS)
    media = choose_accept(request.headers.get("accept"))
    ctx = await hub.contexts.resolve(inc.link)
    await tenant_for_read(hub, inc.tenant)
    body = await hub.discovery.types(inc.tenant, ctx, _details(inc.params.get("details")))
    return NgsiResponse(body, media=media, context=inc.link, embed="each" if media == JSONLD else "object")


async def type_info(request: Request) -> Response:
    hub = hub_of(request)
    inc = incoming(request, PARAMS)
    media = choose_accept(request.headers.get("accept"))
    ctx = await hub.contexts.resolve(inc.link)
    await tenant_for_read(hub, inc.tenant)
    body = await hub.discovery.type_info(inc.tenant, ctx, request.path_params["type"])
    return NgsiResponse(body, media=media, context=inc.link)


async def list_attributes(request: Request) -> Response:
    hub = hub_of(request)
    inc = incoming(request, PARAMS)
    media = choose_accept(request.headers.get("accept"))
    ctx = await hub.contexts.resolve(inc.link)
    await tenant_for_read(hub, inc.tenant)
    body = await hub.discovery.attributes(inc.tenant, ctx, _details(inc.params.get("details")))
    return NgsiResponse(body, media=media, context=inc.link, embed="each" if media == JSONLD else "object")


async def attribute_info(request: Request) -> Response:
    hub = hub_of(request)
    inc = incoming(request, PARAMS)
    media = choose_accept(request.headers.get("accept"))
    ctx = await hub.contexts.resolve(inc.link)
    await tenant_for_read(hub, inc.tenant)
    body = await hub.discovery.attribute_info(inc.tenant, ctx, request.path_params["attr"])
    return NgsiResponse(body, media=media, context=inc.link)


routes = [
    Route("/types", list_types, methods=["GET"]),
    Route("/types/{type:path}", type_info, methods=["GET"]),
    Route("/attributes", list_attributes, methods=["GET"]),
    Route("/attributes/{attr:path}", attribute_info, methods=["GET"]),
]
