"""/temporal/entities and /temporal/entityOperations/query."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dosi.api.negotiation import JSON, NgsiResponse, body_context, choose_accept, incoming, read_json
from dosi.api.routes.common import POST_QUERY_PARAMS, hub_of, resolve_body_context, tenant_for_read
from dosi.api.routes.entities import QUERY_PARAMS, VIEW_PARAMS
from dosi.errors import BadRequestData, InvalidRequest, MethodNotAllowed, ResourceNotFound
from dosi.ngsild import temporal as model
from dosi.ngsild.context import ActiveContext
from dosi.service.entities import check_id
from dosi.service.params import parse_selector, query_body_params
from dosi.service.temporal import TemporalRequest
from dosi.store.base import TimeWindow

TIME_PARAMS = ("timerel", "timeAt", "endTimeAt", "timeproperty", "lastN", "aggrMethods", "aggrPeriodDuration")
FORMS = {"temporalValues", "aggregatedValues", "normalized", "keyValues", "simplified", "concise"}


def temporal_request(hub: Any, ctx: ActiveContext, params: dict[str, Any]) -> TemporalRequest:
    options = [o.strip() for o in params.get("options", "").split(",") if o.strip()]
    unknown = [o for o in options if o not in FORMS | {"sysAttrs"}]
    if unknown or (params.get("format") is not None and params["format"] not in FORMS):
        raise InvalidRequest(f"unknown options or format: {unknown or params.get('format')}")
    form = params.get("format") or next(
        (o for o in options if o in ("temporalValues", "aggregatedValues")), "normalized"
    )
    if form in ("keyValues", "simplified"):
        form = "temporalValues"
    view_params = {k: v for k, v in params.items() if k not in ("options", "format")}
    if "sysAttrs" in options:
        view_params["options"] = "sysAttrs"
    view = hub.queries.view(ctx, view_params)
    timerel, time_at, end_at, timeproperty, last_n = model.parse_window(params)
    window = TimeWindow(timeproperty=timeproperty, last_n=last_n)
    if timerel == "before":
        window.before = time_at
    elif timerel == "after":
        window.after = time_at
    elif timerel == "between":
        window.after, window.before, window.after_inclusive = time_at, end_at, True
    methods: list[str] = []
    period = None
    if form == "aggregatedValues":
        methods = [m.strip() for m in params.get("aggrMethods", "").split(",") if m.strip()]
        if not methods or any(m not in model.AGGREGATIONS for m in methods):
            raise BadRequestData(f"aggrMethods must list some of {', '.join(model.AGGREGATIONS)}")
        if params.get("aggrPeriodDuration"):
            period = model.parse_duration(params["aggrPeriodDuration"])
    return TemporalRequest(window, view, form, methods, period)


def _answer(bodies: Any, media: str, context: Any, content_range: Any, count: int | None = None) -> Response:
    headers: dict[str, str] = {}
    if count is not None:
        headers["NGSILD-Results-Count"] = str(count)
    status = 200
    if content_range is not None:
        start, end, size = content_range
        headers["Content-Range"] = f"date-time {start}-{end}/{size}"
        status = 206
    embed = "object" if isinstance(bodies, dict) else ("none" if media == JSON else "each")
    return NgsiResponse(bodies, status, media=media, context=context, headers=headers, embed=embed)


async def query_temporal(request: Request) -> Response:
    hub = hub_of(request)
    inc = incoming(request, QUERY_PARAMS + TIME_PARAMS)
    media = choose_accept(request.headers.get("accept"))
    ctx = await hub.contexts.resolve(inc.link)
    treq = temporal_request(hub, ctx, inc.params)
    query = hub.queries.query(inc.tenant, ctx, inc.params)
    await tenant_for_read(hub, inc.tenant)
    bodies, count, content_range = await hub.temporal.entities(query, treq, ctx)
    return _answer(bodies, media, inc.link, content_range, count)


async def query_temporal_by_post(request: Request) -> Response:
    hub = hub_of(request)
    inc = incoming(request, POST_QUERY_PARAMS + ("lastN", "aggrMethods", "aggrPeriodDuration", "timeproperty"))
    media = choose_accept(request.headers.get("accept"))
    body = await read_json(inc, hub.settings.max_body_bytes)
    ctx_value = body_context(inc, body)
    ctx = await hub.contexts.resolve(ctx_value)
    params: dict[str, Any] = {**inc.params, **query_body_params(body)}
    temporal_q = body.get("temporalQ") if isinstance(body, dict) else None
    if isinstance(temporal_q, dict):
        params.update({k: str(v) for k, v in temporal_q.items() if k in TIME_PARAMS})
    selectors = params.pop("_selectors", None)
    treq = temporal_request(hub, ctx, params)
    query = hub.queries.query(inc.tenant, ctx, params, require_filter=selectors is None)
    if selectors is not None:
        query.selectors = [parse_selector(ctx, s) for s in selectors]
    bodies, count, content_range = await hub.temporal.entities(query, treq, ctx)
    return _answer(bodies, media, ctx_value if isinstance(ctx_value, str) else inc.link, content_range, count)


async def retrieve_temporal(request: Request) -> Response:
    hub = hub_of(request)
    inc = incoming(request, VIEW_PARAMS + TIME_PARAMS)
    media = choose_accept(request.headers.get("accept"))
    ctx = await hub.contexts.resolve(inc.link)
    treq = temporal_request(hub, ctx, inc.params)
    entity_id = request.path_params["id"]
    query = hub.queries.paging_only({"limit": "1"})
    query.tenant, query.ids = inc.tenant, [check_id(entity_id)]
    query.attrs = list(treq.view.attrs) if treq.view.attrs else None
    bodies, _, content_range = await hub.temporal.entities(query, treq, ctx)
    if not bodies or (query.attrs and set(bodies[0]) <= {"id", "type"}) or not bodies[0]:
        raise ResourceNotFound(f"temporal entity {entity_id} not found (or nothing of it matches)")
    return _answer(bodies[0], media, inc.link, content_range)


async def create_temporal(request: Request) -> Response:
    hub = hub_of(request)
    inc = incoming(request, ("local",))
    body = await read_json(inc, hub.settings.max_body_bytes)
    ctx = await resolve_body_context(hub, inc, body)
    created = await hub.temporal.upsert(inc.tenant, ctx, body)
    entity_id = body["id"]
    if created:
        return Response(status_code=201, headers={"Location": f"/ngsi-ld/v1/temporal/entities/{entity_id}"})
    return Response(status_code=204)


async def delete_temporal(request: Request) -> Response:
    hub = hub_of(request)
    inc = incoming(request, ("local", "type"))
    await hub.temporal.delete(inc.tenant, request.path_params["id"])
    return Response(status_code=204)


async def add_temporal_attrs(request: Request) -> Response:
    hub = hub_of(request)
    inc = incoming(request, ())
    body = await read_json(inc, hub.settings.max_body_bytes)
    ctx = await resolve_body_context(hub, inc, body)
    await hub.temporal.add_attrs(inc.tenant, ctx, request.path_params["id"], body)
    return Response(status_code=204)


async def delete_temporal_attr(request: Request) -> Response:
    hub = hub_of(request)
    inc = incoming(request, ("datasetId", "deleteAll"))
    ctx = await hub.contexts.resolve(inc.link)
    delete_all = inc.params.get("deleteAll", "false")
    if delete_all not in ("true", "false"):
        raise BadRequestData("deleteAll must be true or false")
    params = request.path_params
    await hub.temporal.delete_attr(
        inc.tenant, ctx, params["id"], params["attr"], inc.params.get("datasetId"), delete_all == "true"
    )
    return Response(status_code=204)


async def delete_temporal_instance(request: Request) -> Response:
    hub = hub_of(request)
    inc = incoming(request, ())
    ctx = await hub.contexts.resolve(inc.link)
    p = request.path_params
    await hub.temporal.delete_instance(inc.tenant, ctx, p["id"], p["attr"], p["instance"])
    return Response(status_code=204)


async def patch_temporal_instance(request: Request) -> Response:
    hub = hub_of(request)
    inc = incoming(request, ())
    body = await read_json(inc, hub.settings.max_body_bytes)
    ctx = await resolve_body_context(hub, inc, body)
    p = request.path_params
    await hub.temporal.patch_instance(inc.tenant, ctx, p["id"], p["attr"], p["instance"], body)
    return Response(status_code=204)


async def not_allowed(request: Request) -> Response:
    raise MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}")


routes = [
    Route("/temporal/entities", query_temporal, methods=["GET"]),
    Route("/temporal/entities", create_temporal, methods=["POST"]),
    Route("/temporal/entityOperations/query", query_temporal_by_post, methods=["POST"]),
    Route("/temporal/entities/{id:seg}", retrieve_temporal, methods=["GET"]),
    Route("/temporal/entities/{id:seg}", delete_temporal, methods=["DELETE"]),
    Route("/temporal/entities/{id:seg}/attrs", add_temporal_attrs, methods=["POST"]),
    Route("/temporal/entities/{id:seg}/attrs/{attr:seg}", delete_temporal_attr, methods=["DELETE"]),
    Route("/temporal/entities/{id:seg}/attrs/{attr}/{instance}", patch_temporal_instance, methods=["PATCH"]),
    Route("/temporal/entities/{id:seg}/attrs/{attr:seg}/{instance:seg}", delete_temporal_instance, methods=["DELETE"]),
    Route("/temporal/entities/{id:seg}/attrs/{attr:seg}/{instance:seg}", not_allowed, methods=["PATCH"]),
]
