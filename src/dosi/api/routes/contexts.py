"""/jsonldContexts: list, serve, add a hosted context, delete, reload."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dosi.api.negotiation import JSON, NgsiResponse, incoming, read_json
from dosi.api.routes.common import hub_of
from dosi.errors import BadRequestData, InvalidRequest
from dosi.service.contexts import HOSTED_PREFIX
from dosi.store.base import StoredContext


def _flag(value: str | None, name: str) -> bool:
    if value not in (None, "true", "false"):
        raise BadRequestData(f"{name} must be true or false")
    return value == "true"


def _details(item: StoredContext) -> dict[str, Any]:
    out: dict[str, Any] = {"URL": item.url, "localId": item.id, "kind": item.kind}
    if item.created_at:
        out["createdAt"] = item.created_at
    return out


async def list_contexts(request: Request) -> Response:
    hub = hub_of(request)
    inc = incoming(request, ("details", "kind"))
    details = _flag(inc.params.get("details"), "details")
    items = await hub.contexts.list(inc.params.get("kind"))
    body = [_details(i) for i in items] if details else [i.url for i in items]
    return NgsiResponse(body, media=JSON, context=None)


async def add_context(request: Request) -> Response:
    hub = hub_of(request)
    inc = incoming(request, ())
    body = await read_json(inc, hub.settings.max_body_bytes)
    if not isinstance(body, dict) or "@context" not in body:
        raise InvalidRequest("a context document must be an object with an @context member")
    item = await hub.contexts.add_hosted(body)
    return Response(status_code=201, headers={"Location": HOSTED_PREFIX + item.id})


async def serve_context(request: Request) -> Response:
    hub = hub_of(request)
    inc = incoming(request, ("details",))
    details = _flag(inc.params.get("details"), "details")
    item = await hub.contexts.get(request.path_params["id"])
    return NgsiResponse(_details(item) if details else item.body, media=JSON, context=None)


async def delete_context(request: Request) -> Response:
    hub = hub_of(request)
    inc = incoming(request, ("reload",))
    reload = _flag(inc.params.get("reload"), "reload")
    await hub.contexts.delete(request.path_params["id"], reload)
    return Response(status_code=204)


routes = [
    Route("/jsonldContexts", list_contexts, methods=["GET"]),
    Route("/jsonldContexts", add_context, methods=["POST"]),
    Route("/jsonldContexts/{id:path}", serve_context, methods=["GET"]),
    Route("/jsonldContexts/{id:path}", delete_context, methods=["DELETE"]),
]
