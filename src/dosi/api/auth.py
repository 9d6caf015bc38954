"""The one place requests are authenticated, authorized and audited (writes, denials and restricted reads).

The decision (the grants of the principal's roles and policies for the tenant, purpose and time) travels with
the request to the services, which turn it into filters of their storage queries and checks of their writes.
"""

from __future__ import annotations

import orjson
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dosi.errors import DosiError, TooManyRequests, Unauthorized
from dosi.ngsild.model import now_iso
from dosi.security.access import action_of, authorize
from dosi.security.audit import record
from dosi.security.authenticate import Authenticator
from dosi.security.context import Served, serving
from dosi.security.limits import RateLimiter
from dosi.security.policy import EVERYTHING
from dosi.security.principal import OPEN, Principal
from dosi.service.policies import PolicyService
from dosi.settings import Settings
from dosi.store.base import EntityStore

PURPOSE_HEADER = "dosi-purpose"  # the purpose a request states, for policies bound to one (and the audit)

# answered without credentials (load balancers, the API description); everything else is checked
PUBLIC_PATHS = frozenset({"/health", "/openapi.json"})


class AuthMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        prefix: str,
        authenticator: Authenticator,
        policies: PolicyService,
        store: EntityStore,
        open_access: bool,
        settings: Settings,
    ):
        self.app = app
        self.prefix = prefix
        self.authenticator = authenticator
        self.policies = policies
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
            with serving(Served(OPEN, EVERYTHING)):
                await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        method, path = scope["method"], scope["path"].removeprefix(self.prefix)
        tenant = headers.get("ngsild-tenant", "")
        purpose = headers.get(PURPOSE_HEADER) or None
        action = action_of(method, path)
        principal: Principal | None = None
        try:
            principal = await self.authenticator.principal(headers.get("authorization"), headers.get("x-api-key"))
            access = await self.policies.access(principal, tenant, purpose)
            authorize(principal, access, action, tenant)
            self._limit(principal, tenant)
        except DosiError as err:
            await self._audit(principal, tenant, purpose, action, method, path, err.status, "deny")
            await send_problem(err, send)
            return
        scope["state"]["principal"] = principal
        served = Served(principal, access, purpose)
        status = 500

        async def watching(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            with serving(served):
                await self.app(scope, receive, watching)
        finally:
            if action != "read":
                await self._audit(principal, tenant, purpose, action, method, path, status, "allow")
            elif access.restricted and path.startswith(("/entities", "/temporal", "/entityOperations")):
                await self._audit(principal, tenant, purpose, action, method, path, status, "allow", served.rows)

    def _limit(self, principal: Principal, tenant: str) -> None:
        wait = max(
            self.per_client.retry_after(principal.kind + ":" + principal.subject), self.per_tenant.retry_after(tenant)
        )
        if wait:
            raise TooManyRequests(f"rate limit reached: retry in {wait} s / {wait}초 후 다시 시도하세요", wait)

    async def _audit(
        self,
        who: Principal | None,
        tenant: str,
        purpose: str | None,
        action: str,
        method: str,
        path: str,
        status: int,
        decision: str,
        rows: int | None = None,
    ) -> None:
        doc = record(
            at=now_iso(),
            subject=who.subject if who else None,
            kind=who.kind if who else None,
            client=who.client if who else None,
            tenant=tenant,
            purpose=purpose,
            rows=rows,
            action=action,
            method=method,
            resource=path,
            status=status,
            decision=decision,
        )
        await self.store.append_audit([doc])


async def send_problem(error: DosiError, send: Send) -> None:
    body = orjson.dumps(error.problem())
    headers: list[tuple[bytes, bytes]] = [(b"content-type", b"application/json")]
    if isinstance(error, Unauthorized):
        headers.append((b"www-authenticate", b'Bearer realm="dosi"'))
    if isinstance(error, TooManyRequests):
        headers.append((b"retry-after", str(error.retry_after).encode()))
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
