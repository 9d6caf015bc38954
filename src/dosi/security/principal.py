"""A principal and the actions its roles allow. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field

ACTIONS = ("read", "create", "update", "delete", "subscribe", "admin")

# what each built-in role may do; a principal may hold several
ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(ACTIONS),
    "operator": frozenset({"read", "create", "update", "delete", "subscribe"}),
    "provider": frozenset({"read", "create", "update"}),
    "consumer": frozenset({"read", "subscribe"}),
    "public": frozenset({"read"}),
}


@dataclass(frozen=True)
class Principal:
    subject: str  # the user or client id, or the API key id
    kind: str  # user | apikey | anonymous
    roles: frozenset[str] = field(default_factory=frozenset)
    tenants: frozenset[str] | None = None  # the tenants it may use; None: every tenant
    client: str | None = None  # the OAuth client (azp) the user came through

    def may(self, action: str) -> bool:
        return any(action in ROLE_ACTIONS.get(role, frozenset()) for role in self.roles)

    def may_use(self, tenant: str) -> bool:
        return self.tenants is None or tenant in self.tenants


# the principal of a hub that runs open (bound to loopback, for a first try)
OPEN = Principal("anonymous", "anonymous", frozenset({"admin"}))
