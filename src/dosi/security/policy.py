"""Policies: who may do what to which entities. Pure: no I/O.

A policy grants a subject (`role:consumer`, `user:alice`, `client:parking-app`, `key:<key id>`) some actions,
optionally only on one tenant, on some entity types, on ids matching a pattern, on a dataset (a scope and
everything below it), on some attributes, for a stated purpose and for a period of time.

Each built-in role grants its actions on everything, until a policy for the tenant names that role: from then on
the role's policies are all it grants there (so `public` can be narrowed to open data). `admin` cannot be
narrowed.

The decision for one request is an `Access`: the grants that apply to its principal, tenant, purpose and time.
Reads turn it into a fence (selectors the storage query must match, compiled to SQL by each backend); writes check
each entity against it before it is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dosi.errors import BadRequestData
from dosi.ngsild.evaluate import user_regex
from dosi.ngsild.query import Or, ScopeTerm, TypeExpr
from dosi.security.principal import ACTIONS, ROLE_ACTIONS, Principal
from dosi.store.base import Entity, Selector

SUBJECT_KINDS = ("role", "user", "client", "key")
_SCOPE = re.compile(r"^(/[A-Za-z0-9_\-]+)+$")
_KEYS = frozenset(
    {"id", "subject", "actions", "tenant", "types", "idPattern", "scopes", "attributes", "purpose"}
    | {"validFrom", "validUntil", "description"}
)


@dataclass(frozen=True)
class Grant:
    """What one policy (or a built-in role) allows: actions on the entities it covers."""

    actions: frozenset[str]
    types: tuple[str, ...] | None = None  # expanded type IRIs; None: every type
    id_pattern: str | None = None  # a regular expression the id must match (searched, like idPattern)
    scopes: tuple[str, ...] | None = None  # the dataset: these scopes and everything below them
    attributes: tuple[str, ...] | None = None  # expanded attribute IRIs it shows and lets change; None: all
    purpose: str | None = None  # the purpose a request must state for this grant to apply
    policy: str | None = None  # the policy's id (None: a built-in role)

    @property
    def whole(self) -> bool:
        """True when it covers every entity and attribute of the tenant."""
        return self.types is None and self.id_pattern is None and self.scopes is None and self.attributes is None

    def covers(self, entity: Entity) -> bool:
        if self.types is not None and not any(t in self.types for t in entity.get("type", ())):
            return False
        if self.id_pattern is not None and not user_regex(self.id_pattern).search(str(entity.get("id", ""))):
            return False
        if self.scopes is not None:
            return any(_under(scope, self.scopes) for scope in entity.get("scope") or ())
        return True

    def selector(self) -> Selector:
        """The entities it covers, as a selector every backend compiles to SQL."""
        scope_q: Any = None
        if self.scopes is not None:
            terms: tuple[Any, ...] = tuple(ScopeTerm((*s.strip("/").split("/"), "#")) for s in self.scopes)
            scope_q = Or(terms)
        types = TypeExpr(tuple((t,) for t in self.types)) if self.types is not None else None
        return Selector(id_pattern=self.id_pattern, types=types, scope_q=scope_q)


@dataclass(frozen=True)
class Policy:
    id: str
    subject: str
    grant: Grant
    tenant: str | None = None  # None: any tenant the principal may use
    valid_from: str | None = None
    valid_until: str | None = None
    description: str = ""

    def applies(self, principal: Principal, tenant: str, purpose: str | None, now: str) -> bool:
        if self.tenant is not None and self.tenant != tenant:
            return False
        if self.grant.purpose is not None and self.grant.purpose != purpose:
            return False
        if self.valid_from is not None and _instant(now) < _instant(self.valid_from):
            return False
        if self.valid_until is not None and _instant(now) >= _instant(self.valid_until):
            return False
        return names(principal, self.subject)

    def document(self) -> dict[str, Any]:
        g = self.grant
        doc: dict[str, Any] = {"id": self.id, "subject": self.subject, "actions": sorted(g.actions)}
        optional = {
            "tenant": self.tenant,
            "types": list(g.types) if g.types is not None else None,
            "idPattern": g.id_pattern,
            "scopes": list(g.scopes) if g.scopes is not None else None,
            "attributes": list(g.attributes) if g.attributes is not None else None,
            "purpose": g.purpose,
            "validFrom": self.valid_from,
            "validUntil": self.valid_until,
            "description": self.description or None,
        }
        doc.update({k: v for k, v in optional.items() if v is not None})
        return doc


def names(principal: Principal, subject: str) -> bool:
    """True when the policy subject `kind:value` is this principal (or one of its roles)."""
    kind, _, value = subject.partition(":")
    if kind == "role":
        return value in principal.roles
    if kind == "user":
        return principal.kind == "user" and principal.subject == value
    if kind == "key":
        return principal.kind == "apikey" and principal.subject == value
    return kind == "client" and principal.client == value


def parse_policy(doc: Any, policy_id: str) -> Policy:
    """A policy from its JSON document; names in `types` and `attributes` must already be expanded IRIs.
    Any fault is a BadRequestData naming it."""
    if not isinstance(doc, dict):
        raise BadRequestData("a policy must be a JSON object / 정책은 JSON 객체여야 합니다")
    unknown = sorted(set(doc) - _KEYS)
    if unknown:
        raise BadRequestData(f"unknown policy members {unknown} / 알 수 없는 항목")
    subject = doc.get("subject")
    kind, _, value = subject.partition(":") if isinstance(subject, str) else ("", "", "")
    if kind not in SUBJECT_KINDS or not value:
        raise BadRequestData("subject must be role:NAME, user:ID, client:ID or key:KEY_ID / 주체 형식 오류")
    if kind == "role" and value == "admin":
        raise BadRequestData("the admin role cannot be narrowed / admin 역할은 제한할 수 없습니다")
    actions = doc.get("actions")
    if not isinstance(actions, list) or not actions or any(a not in ACTIONS for a in actions):
        raise BadRequestData(f"actions must be a non-empty list of {list(ACTIONS)} / 허용 동작 목록 오류")
    if "admin" in actions:
        raise BadRequestData("admin is granted by the admin role only / admin 권한은 admin 역할만 가집니다")
    id_pattern = _optional_text(doc, "idPattern")
    if id_pattern is not None:
        user_regex(id_pattern)
    scopes = _names(doc, "scopes")
    if scopes is not None and not all(_SCOPE.match(s) for s in scopes):
        raise BadRequestData("each scope must look like /Seoul/Gangnam / 범위 형식 오류")
    valid_from, valid_until = _optional_time(doc, "validFrom"), _optional_time(doc, "validUntil")
    if valid_from and valid_until and _instant(valid_until) <= _instant(valid_from):
        raise BadRequestData("validUntil must come after validFrom / 유효 기간 오류")
    grant = Grant(
        frozenset(actions),
        _names(doc, "types"),
        id_pattern,
        scopes,
        _names(doc, "attributes"),
        _optional_text(doc, "purpose"),
        policy_id,
    )
    return Policy(
        policy_id,
        str(subject),
        grant,
        _optional_text(doc, "tenant"),
        valid_from,
        valid_until,
        _optional_text(doc, "description") or "",
    )


@dataclass(frozen=True)
class Access:
    """The grants one request holds (for its principal, tenant, stated purpose and time)."""

    grants: tuple[Grant, ...]
    purpose: str | None = None
    _by_action: dict[str, tuple[Grant, ...]] = field(default_factory=dict, compare=False, repr=False)

    def of(self, action: str) -> tuple[Grant, ...]:
        if action not in self._by_action:
            self._by_action[action] = tuple(g for g in self.grants if action in g.actions)
        return self._by_action[action]

    def allows(self, action: str) -> bool:
        return bool(self.of(action))

    @property
    def restricted(self) -> bool:
        """True when some grant is narrower than a whole tenant or bound to a purpose: its reads are audited."""
        return any(not g.whole or g.purpose is not None for g in self.grants)

    def fence(self, action: str) -> list[Selector] | None:
        """The entities `action` may touch, as alternatives for the storage query; None: every entity."""
        grants = self.of(action)
        if any(g.types is None and g.id_pattern is None and g.scopes is None for g in grants):
            return None
        return [g.selector() for g in grants]

    def permits(self, action: str, entity: Entity, changed: list[str] | None = None) -> bool:
        """May `action` write this entity? `changed`: the attributes the write touches (None: all it holds)."""
        covering = [g for g in self.of(action) if g.covers(entity)]
        if any(g.attributes is None for g in covering):
            return True
        shown = {name for g in covering for name in g.attributes or ()}
        touched = changed if changed is not None else attributes_of(entity)
        return bool(covering) and all(name in shown for name in touched)

    def attributes(self, action: str, entity: Entity) -> frozenset[str] | None:
        """The attributes of this entity `action` reaches; None: all of them."""
        names_: set[str] = set()
        for grant in self.of(action):
            if grant.covers(entity):
                if grant.attributes is None:
                    return None
                names_.update(grant.attributes)
        return frozenset(names_)

    def any_attributes(self, action: str) -> frozenset[str] | None:
        """The attributes `action` reaches on some entity; None: no grant limits them."""
        names_: set[str] = set()
        for grant in self.of(action):
            if grant.attributes is None:
                return None
            names_.update(grant.attributes)
        return frozenset(names_)

    def filterable(self, action: str, attribute: str) -> bool:
        """May a filter or sort of this request name `attribute`? Only when every grant shows it, so that a
        filter cannot reveal an attribute through the entities it selects."""
        return all(g.attributes is None or attribute in g.attributes for g in self.of(action))

    def project(self, action: str, entity: Entity) -> Entity:
        """The entity with only the attributes `action` reaches (itself when nothing is hidden)."""
        shown = self.attributes(action, entity)
        if shown is None:
            return entity
        return {**entity, "attrs": {k: v for k, v in entity.get("attrs", {}).items() if k in shown}}

    def unlimited(self, action: str) -> bool:
        """True when `action` reaches every entity and attribute (nothing to check or hide)."""
        return any(g.whole for g in self.of(action))


def role_grants(principal: Principal, narrowed: frozenset[str]) -> list[Grant]:
    """The built-in grants of the principal's roles that no policy narrows."""
    return [
        Grant(ROLE_ACTIONS[role])
        for role in sorted(principal.roles)
        if role in ROLE_ACTIONS and (role == "admin" or role not in narrowed)
    ]


def decide(principal: Principal, policies: list[Policy], tenant: str, purpose: str | None, now: str) -> Access:
    """The access one request holds."""
    narrowed = frozenset(
        p.subject.removeprefix("role:")
        for p in policies
        if p.subject.startswith("role:") and p.tenant in (None, tenant)
    )
    grants = role_grants(principal, narrowed)
    grants += [p.grant for p in policies if p.applies(principal, tenant, purpose, now)]
    return Access(tuple(grants), purpose)


EVERYTHING = Access((Grant(frozenset(ACTIONS)),))  # background jobs and a hub running open
NOTHING = Access(())


def attributes_of(entity: Entity) -> list[str]:
    return list(entity.get("attrs", {}))


def _under(scope: str, datasets: tuple[str, ...]) -> bool:
    return any(scope == d or scope.startswith(d + "/") for d in datasets)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _optional_text(doc: dict[str, Any], key: str) -> str | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise BadRequestData(f"{key} must be a non-empty string / {key} 형식 오류")
    return value


def _optional_time(doc: dict[str, Any], key: str) -> str | None:
    value = _optional_text(doc, key)
    if value is not None:
        try:
            if _instant(value).tzinfo is None:
                raise ValueError
        except ValueError:
            raise BadRequestData(f"{key} must be a date-time with a zone, like 2027-01-01T00:00:00Z") from None
    return value


def _names(doc: dict[str, Any], key: str) -> tuple[str, ...] | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise BadRequestData(f"{key} must be a non-empty list of names / {key} 형식 오류")
    return tuple(value)
