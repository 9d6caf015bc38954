"""The one place requests are authenticated, authorized (action × tenant) and audited (writes and denials)."""

from __future__ import annotations

import orjson
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dosi.errors import DosiError, TooManyRequests, Unauthorized
from dosi.ngsild.model import now_iso
from dosi.security.access import action_of, authorize
from dosi.security.audit import record
from dosi.security.authenticate import Authenticator
from dosi.security.limits import RateLimiter
from dosi.security.principal import OPEN, Principal
from dosi.settings import Settings
from dosi.store.base import EntityStore

PUBLIC_PATHS = frozenset({"/health"})  # answered without credentials (load balancers); everything else is checked


class AuthMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        prefix: str,
        authenticator: Authenticator,
        store: EntityStore,
        open_access: bool,
        settings: Settings,
    ):
        self.app = app
        self.prefix = prefix
        self.authenticator = authenticator
        self.store = store
        self.open_access = open_access
        self.per_client = RateLimiter(
            settings.rate_limit_per_client, settings.rate_limit_per_client * settings.rate_limit_burst
        )
        self.per_tenant = RateLimiter(
            settings.rate_limit_per_tenant, settings.rate_limit_per_tenant * settings.rate_limit_burst
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})
        if self.open_access:
            scope["state"]["principal"] = OPEN
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        method, path = scope["method"], scope["path"].removeprefix(self.prefix)
        tenant = headers.get("ngsild-tenant", "")
        action = action_of(method, path)
        principal: Principal | None = None
        try:
            principal = await self.authenticator.principal(headers.get("authorization"), headers.get("x-api-key"))
            authorize(principal, action, tenant)
            self._limit(principal, tenant)
        except DosiError as err:
            await self._audit(principal, tenant, action, method, path, err.status, "deny")
            await _problem(err, send)
            return
        scope["state"]["principal"] = principal
        status = 500

        async def watching(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watching)
        finally:
            if action != "read":
                await self._audit(principal, tenant, action, method, path, status, "allow")

    def _limit(self, principal: Principal, tenant: str) -> None:
        wait = max(
            self.per_client.retry_after(principal.kind + ":" + principal.subject), self.per_tenant.retry_after(tenant)
        )
        if wait:
            raise TooManyRequests(f"rate limit reached: retry in {wait} s / {wait}초 후 다시 시도하세요", wait)

    async def _audit(
        self, who: Principal | None, tenant: str, action: str, method: str, path: str, status: int, decision: str
    ) -> None:
        doc = record(
            at=now_iso(),
            subject=who.subject if who else None,
            kind=who.kind if who else None,
            client=who.client if who else None,
            tenant=tenant,
            action=action,
            method=method,
            resource=path,
            status=status,
            decision=decision,
        )
        await self.store.append_audit([doc])


async def _problem(error: DosiError, send: Send) -> None:
    body = orjson.dumps(error.problem())
    headers: list[tuple[bytes, bytes]] = [(b"content-type", b"application/json")]
    if isinstance(error, Unauthorized):
        headers.append((b"www-authenticate", b'Bearer realm="dosi"'))
    if isinstance(error, TooManyRequests):
        headers.append((b"retry-after", str(error.retry_after).encode()))
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
