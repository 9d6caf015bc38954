"""Which action a request is: the one table the authorization decision starts from. Pure: no I/O."""

from __future__ import annotations

from dosi.errors import Forbidden
from dosi.security.policy import Access
from dosi.security.principal import Principal

_READ_POSTS = ("/entityOperations/query", "/temporal/entityOperations/query")


def action_of(method: str, path: str) -> str:
    """read, create, update, delete, subscribe or admin, for a method on a path under /ngsi-ld/v1 (or /dosi/v1)."""
    if path.startswith("/dosi/v1/"):
        return _dosi_action(method, path.removeprefix("/dosi/v1"))
    if path.startswith(("/subscriptions", "/csourceSubscriptions")):
        return "read" if method in ("GET", "HEAD") else "subscribe"
    if path.startswith("/jsonldContexts") and method not in ("GET", "HEAD"):
        return "admin"
    if method in ("GET", "HEAD", "OPTIONS") or path in _READ_POSTS:
        return "read"
    if method == "DELETE" or path == "/entityOperations/delete":
        return "delete"
    if method == "POST" and (path in ("/entities", "/temporal/entities") or path == "/entityOperations/create"):
        return "create"
    return "update"  # PATCH, PUT, POST of attributes, upsert/update/merge batches


def _dosi_action(method: str, path: str) -> str:
    """Dosi's own resources: models are read by all and registered by admins; devices push as providers;
    the rejection log holds raw payloads and keys grant access, so both are for admins."""
    if path.startswith(("/ingest/rejected", "/keys", "/policies")):
        return "admin"
    if method in ("GET", "HEAD", "OPTIONS"):
        return "read"
    if path.startswith("/ingest/"):
        return "update"
    return "admin"


def authorize(principal: Principal, access: Access, action: str, tenant: str) -> None:
    """The request's action must be granted on its tenant, by a role or a policy (which entities and
    attributes it reaches is the services' part)."""
    if not principal.may_use(tenant):
        raise Forbidden(f"tenant {tenant or '(default)'!r} is not one of yours / 이 테넌트에 대한 권한이 없습니다")
    if not access.allows(action):
        raise Forbidden(f"your roles and policies do not allow {action} / 역할과 정책에 {action} 권한이 없습니다")
