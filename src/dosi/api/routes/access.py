"""Who may do what (under /dosi/v1, for admins): API keys and access policies."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dosi.api.negotiation import incoming, read_json
from dosi.api.routes.common import hub_of, resolve_body_context
from dosi.api.routes.dosi import json_response, read_body
from dosi.errors import BadRequestData
from dosi.security.principal import Principal
from dosi.service.keys import KeyService, describe


def _admin(request: Request) -> Principal:
    principal: Principal = request.state.principal
    return principal


# -- API keys (admin) -------------------------------------------------------------------------------
def _fence(request: Request) -> frozenset[str] | None:
    return _admin(request).tenants


async def list_keys(request: Request) -> Response:
    return json_response([describe(k) for k in await KeyService(hub_of(request).store).listed(_fence(request))])


async def issue_key(request: Request) -> Response:
    try:
        doc = orjson.loads(await read_body(request))
    except orjson.JSONDecodeError:
        raise BadRequestData("the body must be JSON: {name, roles, tenants, days}") from None
    if not isinstance(doc, dict):
        raise BadRequestData("the body must be a JSON object: {name, roles, tenants, days}")
    name, roles, tenants, days = doc.get("name"), doc.get("roles"), doc.get("tenants", [""]), doc.get("days")
    if not isinstance(name, str) or not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise BadRequestData("name must be a string and roles a list of role names")
    if tenants is not None and (not isinstance(tenants, list) or not all(isinstance(t, str) for t in tenants)):
        raise BadRequestData("tenants must be a list of tenant names, or null for every tenant")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int | float)):
        raise BadRequestData("days must be a number")
    issued = await KeyService(hub_of(request).store).issue(name, roles, tenants, days, _fence(request))
    body = {**describe(issued.key), "key": issued.text}  # the only time the key is shown
    return Response(orjson.dumps(body), 201, media_type="application/json",
                    headers={"Location": f"/dosi/v1/keys/{issued.key.key_id}"})  # fmt: skip


async def revoke_key(request: Request) -> Response:
    await KeyService(hub_of(request).store).revoke(request.path_params["key_id"], _fence(request))
    return Response(status_code=204)


# -- access policies (admin) -----------------------------------------------------------------------
async def list_policies(request: Request) -> Response:
    return json_response([p.document() for p in await hub_of(request).policies.list(_admin(request))])


async def get_policy(request: Request) -> Response:
    policy = await hub_of(request).policies.get(_admin(request), request.path_params["policy_id"])
    return json_response(policy.document())


async def put_policy(request: Request) -> Response:
    """POST /policies creates (201); PUT /policies/{id} creates or replaces (204). Short names in `types` and
    `attributes` are expanded with the request's @context (Link header, or inline with ld+json)."""
    hub = hub_of(request)
    inc = incoming(request)
    body = await read_json(inc, hub.settings.max_body_bytes)
    ctx = await resolve_body_context(hub, inc, body)
    given = request.path_params.get("policy_id")
    policy = await hub.policies.put(_admin(request), body, ctx, given)
    if given is not None:
        return Response(status_code=204)
    return Response(orjson.dumps(policy.document()), 201, media_type="application/json",
                    headers={"Location": f"/dosi/v1/policies/{policy.id}"})  # fmt: skip


async def delete_policy(request: Request) -> Response:
    await hub_of(request).policies.delete(_admin(request), request.path_params["policy_id"])
    return Response(status_code=204)


routes = [
    Route("/keys", list_keys, methods=["GET"]),
    Route("/keys", issue_key, methods=["POST"]),
    Route("/keys/{key_id}", revoke_key, methods=["DELETE"]),
    Route("/policies", list_policies, methods=["GET"]),
    Route("/policies", put_policy, methods=["POST"]),
    Route("/policies/{policy_id}", get_policy, methods=["GET"]),
    Route("/policies/{policy_id}", put_policy, methods=["PUT"]),
    Route("/policies/{policy_id}", delete_policy, methods=["DELETE"]),
]
