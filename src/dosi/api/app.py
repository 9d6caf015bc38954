"""create_app(settings): the ASGI application, its lifespan and the one error handler."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from dosi.api import openapi
from dosi.api.auth import AuthMiddleware, send_problem
from dosi.api.hub import Hub
from dosi.api.routes import access, batch, contexts, discovery, dosi, entities, subscriptions, temporal
from dosi.errors import BadRequestData, DosiError, InternalError, MethodNotAllowed, ResourceNotFound
from dosi.notify.worker import DeliveryWorker
from dosi.security.authenticate import Authenticator
from dosi.security.mode import open_access
from dosi.service.retention import HistoryKeeper
from dosi.settings import Settings
from dosi.store.base import EntityStore

log = logging.getLogger("dosi")
Endpoint = Callable[[Request], Awaitable[Response]]
PREFIX = "/ngsi-ld/v1"


def problem_response(error: DosiError, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(error.problem()), error.status, headers, media_type="application/json")


async def on_dosi_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DosiError)
    return problem_response(exc)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        refused = MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}")
        return problem_response(refused, {"Allow": (exc.headers or {}).get("Allow", "")})
    if exc.status_code == 404:
        return problem_response(ResourceNotFound(f"no resource at {request.url.path}"))
    error = DosiError(exc.detail)
    error.status = exc.status_code
    return problem_response(error)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return problem_response(InternalError("an unexpected error occurred; it has been logged"))


NUL_IN_QUERY = re.compile(rb"%00")


class TrailingSlash:
    """Treat /entities/ like /entities (NGSI-LD clients send both), and refuse a NUL character anywhere in the
    path or query string (no stored text can hold one: PostgreSQL refuses it) before any route sees it."""

    def __init__(self, app: ASGIApp, state: Any = None):
        self.app = app
        self.state = state  # the Starlette app's state (its hub), for whoever holds the outermost app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if "\x00" in path or NUL_IN_QUERY.search(scope.get("query_string", b"")):
                await send_problem(BadRequestData("a NUL character (%00) cannot stand in a request"), send)
                return
            if len(path) > 1 and path.endswith("/"):
                scope = dict(scope)
                scope["path"] = path[:-1]
        await self.app(scope, receive, send)


def create_app(settings: Settings | None = None, store: EntityStore | None = None) -> Any:
    settings = settings or Settings()
    hub = Hub.build(settings, store)
    authenticator = Authenticator(settings, hub.store)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await hub.store.open()
        hub.contexts.base_url = f"http://{settings.host}:{settings.port}"
        if not open_access(settings):
            await authenticator.open()
        worker = DeliveryWorker(settings, hub.store, hub.notifier, hub.guard)
        await worker.start()
        keeper = HistoryKeeper(hub.store, settings.history_retention, settings.history_maintenance_interval)
        keeper.start()
        await hub.models.load()
        await hub.ingest.start()
        yield
        await hub.ingest.stop()
        await keeper.stop()
        await worker.stop()
        await hub.store.close()

    api_routes: list[Route] = [
        *entities.routes,
        *batch.routes,
        *discovery.routes,
        *contexts.routes,
        *subscriptions.routes,
        *temporal.routes,
    ]
    app = Starlette(
        routes=[
            *one_route_per_path(PREFIX, api_routes),
            Mount("/dosi/v1", routes=[*dosi.routes, *access.routes]),
            Route("/health", health),
            Route("/openapi.json", openapi_json),
        ],
        lifespan=lifespan,
        exception_handlers={DosiError: on_dosi_error, HTTPException: on_http_error, Exception: on_unexpected},
    )
    app.router.redirect_slashes = False
    app.state.hub = hub
    return TrailingSlash(
        AuthMiddleware(app, PREFIX, authenticator, hub.policies, hub.store, open_access(settings), settings),
        app.state,
    )


def one_route_per_path(prefix: str, routes: list[Route]) -> list[Route]:
    """`routes` under `prefix`, one per path, each choosing its endpoint by the method.

    Starlette tries routes in order: four methods of one path were four tries, and a Mount of the prefix was a second
    router, on every request (10% of a retrieve by id). Unknown methods still answer 405 with the Allow header.
    """
    by_path: dict[str, dict[str, Endpoint]] = {}
    for route in routes:
        handlers = by_path.setdefault(route.path, {})
        for method in route.methods or ():
            handlers.setdefault(method, route.endpoint)
    return [Route(prefix + path, _by_method(handlers), methods=list(handlers)) for path, handlers in by_path.items()]


def _by_method(handlers: dict[str, Endpoint]) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        response: Response = await handlers[request.method](request)
        return response

    return endpoint


async def openapi_json(request: Request) -> Response:
    return Response(orjson.dumps(openapi.document()), media_type="application/openapi+json")


async def health(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")
