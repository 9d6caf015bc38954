"""Dosi's own resources beside NGSI-LD (under /dosi/v1): the data-model registry and ingest (keys and policies
are in `access`)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any
from urllib.parse import quote

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dosi.api.routes.common import hub_of
from dosi.errors import BadRequestData, Forbidden
from dosi.security.principal import Principal


def json_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status, media_type="application/json")


async def read_body(request: Request) -> bytes:
    limit = hub_of(request).settings.max_body_bytes
    body = await request.body()
    if len(body) > limit:
        raise BadRequestData(f"body larger than {limit} bytes / 요청 본문이 너무 큽니다")
    return body


def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    try:
        value = int(request.query_params.get(name, default))
    except ValueError:
        raise BadRequestData(f"{name} must be a whole number") from None
    if not low <= value <= high:
        raise BadRequestData(f"{name} must be between {low} and {high}")
    return value


def _tenants(request: Request) -> list[str] | None:
    """The tenants the caller may see (None: every tenant)."""
    principal: Principal = request.state.principal
    return None if principal.tenants is None else sorted(principal.tenants)


# -- data models --------------------------------------------------------------------------------
async def list_models(request: Request) -> Response:
    return json_response([m.summary() for m in hub_of(request).models.all()])


async def get_model(request: Request) -> Response:
    model = await hub_of(request).models.get(request.path_params["type"])
    return json_response(model.summary())


async def model_schema(request: Request) -> Response:
    model = await hub_of(request).models.get(request.path_params["type"])
    return Response(orjson.dumps(model.json_schema()), media_type="application/schema+json")


async def model_context(request: Request) -> Response:
    hub = hub_of(request)
    model = await hub.models.get(request.path_params["type"])
    return Response(orjson.dumps(hub.models.registry.context_document(model.type)), media_type="application/ld+json")


async def register_model(request: Request) -> Response:
    if _tenants(request) is not None:  # a model applies to every tenant
        raise Forbidden("registering a data model needs an admin of every tenant / 모든 테넌트의 관리자만 가능합니다")
    try:
        doc = orjson.loads(await read_body(request))
    except orjson.JSONDecodeError:
        raise BadRequestData("the model must be JSON / 모델은 JSON이어야 합니다") from None
    model, created = await hub_of(request).models.register(doc)
    headers = {"Location": f"/dosi/v1/models/{quote(model.type, safe='')}"}
    return Response(status_code=201 if created else 204, headers=headers)


# -- ingest ---------------------------------------------------------------------------------------
async def push(request: Request) -> Response:
    principal = request.state.principal
    outcome = await hub_of(request).ingest.push(request.path_params["source"], await read_body(request), principal)
    rejected = [{"reason": r.reason, "outcome": r.outcome} for r in outcome.rejected]
    body = {"stored": outcome.stored, "duplicates": outcome.duplicates, "rejected": rejected}
    return json_response(body, 200 if not any(r["outcome"] == "rejected" for r in rejected) else 207)


async def status(request: Request) -> Response:
    return json_response(await hub_of(request).ingest.statuses(_tenants(request)))


async def rejected(request: Request) -> Response:
    source = request.query_params.get("source")
    pending = request.query_params.get("pending", "false") == "true"
    after, limit = _int(request, "after", 0, 0, 2**62), _int(request, "limit", 100, 1, 1000)
    rows = await hub_of(request).store.rejections(source, after, limit, pending, _tenants(request))
    return json_response([asdict(r) for r in rows])


async def replay(request: Request) -> Response:
    limit = _int(request, "limit", 1000, 1, 10_000)
    done = await hub_of(request).ingest.replay(request.query_params.get("source"), limit, _tenants(request))
    return json_response(done)


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
