"""Dosi's own resources beside NGSI-LD (under /dosi/v1): the data-model registry and ingest."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dosi.api.routes.common import hub_of
from dosi.errors import BadRequestData


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status, media_type="application/json")


async def _body(request: Request) -> bytes:
    limit = hub_of(request).settings.max_body_bytes
    body = await request.body()
    if len(body) > limit:
        raise BadRequestData(f"body larger than {limit} bytes / 요청 본문이 너무 큽니다")
    return body


def _int(request: Request, name: str, default: int) -> int:
    try:
        return int(request.query_params.get(name, default))
    except ValueError:
        raise BadRequestData(f"{name} must be a whole number") from None


# -- data models --------------------------------------------------------------------------------
async def list_models(request: Request) -> Response:
    return _json([m.summary() for m in hub_of(request).models.all()])


async def get_model(request: Request) -> Response:
    model = await hub_of(request).models.get(request.path_params["type"])
    return _json(model.summary())


async def model_schema(request: Request) -> Response:
    model = await hub_of(request).models.get(request.path_params["type"])
    return Response(orjson.dumps(model.json_schema()), media_type="application/schema+json")


async def model_context(request: Request) -> Response:
    hub = hub_of(request)
    model = await hub.models.get(request.path_params["type"])
    return Response(orjson.dumps(hub.models.registry.context_document(model.type)), media_type="application/ld+json")


async def register_model(request: Request) -> Response:
    try:
        doc = orjson.loads(await _body(request))
    except orjson.JSONDecodeError:
        raise BadRequestData("the model must be JSON / 모델은 JSON이어야 합니다") from None
    model, created = await hub_of(request).models.register(doc)
    headers = {"Location": f"/dosi/v1/models/{model.type}"}
    return Response(status_code=201 if created else 204, headers=headers)


# -- ingest ---------------------------------------------------------------------------------------
async def push(request: Request) -> Response:
    principal = request.state.principal
    outcome = await hub_of(request).ingest.push(request.path_params["source"], await _body(request), principal)
    rejected = [{"reason": r.reason, "outcome": r.outcome} for r in outcome.rejected]
    body = {"stored": outcome.stored, "duplicates": outcome.duplicates, "rejected": rejected}
    return _json(body, 200 if not any(r["outcome"] == "rejected" for r in rejected) else 207)


async def status(request: Request) -> Response:
    hub = hub_of(request)
    await hub.ingest.load()
    return _json(await hub.ingest.statuses())


async def rejected(request: Request) -> Response:
    source = request.query_params.get("source")
    pending = request.query_params.get("pending", "false") == "true"
    after, limit = _int(request, "after", 0), min(1000, _int(request, "limit", 100))
    rows = await hub_of(request).store.rejections(source, after, limit, pending)
    return _json([asdict(r) for r in rows])


async def replay(request: Request) -> Response:
    done = await hub_of(request).ingest.replay(request.query_params.get("source"), _int(request, "limit", 1000))
    return _json(done)


routes = [
    Route("/models", list_models, methods=["GET"]),
    Route("/models", register_model, methods=["POST"]),
    Route("/models/{type}", get_model, methods=["GET"]),
    Route("/models/{type}/schema", model_schema, methods=["GET"]),
    Route("/models/{type}/context", model_context, methods=["GET"]),
    Route("/ingest/status", status, methods=["GET"]),
    Route("/ingest/rejected", rejected, methods=["GET"]),
    Route("/ingest/rejected/replay", replay, methods=["POST"]),
    Route("/ingest/{source}", push, methods=["POST"]),
]
