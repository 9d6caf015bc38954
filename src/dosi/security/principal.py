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

    def may_use(self, tenant: str) -> bool:
        return self.tenants is None or tenant in self.tenants

    @property
    def name(self) -> str:
        """`kind:subject`, as kept on what it owns (a subscription)."""
        return f"{self.kind}:{self.subject}"

    @property
    def manages_all(self) -> bool:
        """Admins and operators manage every subscription of their tenants; others only their own."""
        return bool(self.roles & {"admin", "operator"})

    def document(self) -> dict[str, object]:
        return {
            "id": self.name,
            "roles": sorted(self.roles),
            "tenants": sorted(self.tenants) if self.tenants is not None else None,
            "client": self.client,
        }

    @classmethod
    def from_document(cls, doc: dict[str, object]) -> Principal:
        kind, _, subject = str(doc["id"]).partition(":")
        tenants = doc.get("tenants")
        return cls(
            subject,
            kind,
            frozenset(str(r) for r in roles) if isinstance(roles := doc.get("roles"), list) else frozenset(),
            frozenset(tenants) if isinstance(tenants, list) else None,
            doc.get("client") if isinstance(doc.get("client"), str) else None,  # type: ignore[arg-type]
        )


# the principal of a hub that runs open (bound to loopback, for a first try)
OPEN = Principal("anonymous", "anonymous", frozenset({"admin"}))
