"""Small helpers every route module shares."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

import dosi.api.convertors  # noqa: F401  (registers the 'seg' path convertor)
from dosi.api.hub import Hub
from dosi.api.negotiation import Incoming, body_context
from dosi.errors import NonexistentTenant
from dosi.ngsild.context import ActiveContext

# URL parameters every POST query (/entityOperations/query, /temporal/entityOperations/query) accepts
POST_QUERY_PARAMS = ("limit", "offset", "count", "options", "format", "local", "lang")


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


async def resolve_body_context(hub: Hub, inc: Incoming, body: Any) -> ActiveContext:
    """The active context of a write: inline (ld+json) or Link (json), by the NGSI-LD rules."""
    ctx_value = body_context(inc, body)
    return await hub.contexts.resolve(ctx_value)


async def tenant_for_read(hub: Hub, tenant: str) -> None:
    if not await hub.store.tenant_exists(tenant):
        raise NonexistentTenant(f"tenant {tenant!r} does not exist")
