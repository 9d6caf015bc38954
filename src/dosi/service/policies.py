"""Access policies as a service: kept in the store, read by every worker, decided per request.

Each process keeps the policies in memory and reads them again when they are older than `refresh` seconds (a
change made in this process is seen at once; one made in another worker within `refresh` seconds).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson

from dosi.errors import BadRequestData, Forbidden, ResourceNotFound
from dosi.models.registry import ModelRegistry
from dosi.ngsild.context import DEFAULT_VOCAB, ActiveContext
from dosi.ngsild.model import is_uri, now_iso
from dosi.security.policy import Access, Policy, decide, parse_policy
from dosi.security.principal import Principal
from dosi.store.base import EntityStore

_NAMED = ("types", "attributes")  # members holding names that the active @context expands


class PolicyService:
    def __init__(self, store: EntityStore, refresh: float = 5.0, registry: ModelRegistry | None = None):
        self.store = store
        self.refresh = refresh
        self.registry = registry
        self._policies: list[Policy] = []
        self._loaded = -float("inf")

    async def all(self) -> list[Policy]:
        if time.monotonic() - self._loaded >= self.refresh:
            self._policies = [parse_policy(orjson.loads(doc), pid) for pid, doc in await self.store.list_policies()]
            self._loaded = time.monotonic()
        return self._policies

    async def access(self, principal: Principal, tenant: str, purpose: str | None) -> Access:
        return decide(principal, await self.all(), tenant, purpose, now_iso())

    async def put(self, admin: Principal, doc: Any, ctx: ActiveContext, policy_id: str | None = None) -> Policy:
        """Create (or, with `policy_id`, replace) a policy; short names in types and attributes are expanded
        with the active @context. An admin fenced to some tenants writes policies for those tenants only."""
        if not isinstance(doc, dict):
            raise BadRequestData("a policy must be a JSON object / 정책은 JSON 객체여야 합니다")
        doc = {k: v for k, v in doc.items() if k != "@context"}
        terms = self._model_terms(doc.get("types"))
        for member in _NAMED:
            if isinstance(doc.get(member), list):
                names = [_expanded(n, ctx, terms) if isinstance(n, str) else [n] for n in doc[member]]
                doc[member] = list(dict.fromkeys(iri for group in names for iri in group))
        given = doc.pop("id", None)
        policy_id = policy_id or given or f"urn:dosi:policy:{uuid.uuid4()}"
        if given is not None and given != policy_id:
            raise BadRequestData("the id in the body differs from the id in the path / 본문과 경로의 id가 다릅니다")
        if not isinstance(policy_id, str) or not is_uri(policy_id):
            raise BadRequestData("a policy id must be a URI / 정책 id는 URI여야 합니다")
        policy = parse_policy(doc, policy_id)
        _within_fence(admin, policy)
        await self.store.put_policy(policy.id, orjson.dumps(policy.document()).decode(), now_iso())
        self._loaded = -float("inf")
        return policy

    def _model_terms(self, types: Any) -> dict[str, str]:
        """The terms of the registered data models named in `types` (ParkingSpot, status, ...)."""
        terms: dict[str, str] = {}
        if self.registry is not None and isinstance(types, list):
            for name in types:
                model = self.registry.get(name) if isinstance(name, str) else None
                if model is not None:
                    terms.update(model.context())
        return terms

    async def list(self, admin: Principal) -> list[Policy]:
        return [p for p in await self.all() if admin.tenants is None or p.tenant in admin.tenants]

    async def get(self, admin: Principal, policy_id: str) -> Policy:
        for policy in await self.list(admin):
            if policy.id == policy_id:
                return policy
        raise ResourceNotFound(f"policy {policy_id} not found / 정책이 없습니다")

    async def delete(self, admin: Principal, policy_id: str) -> None:
        await self.get(admin, policy_id)
        await self.store.delete_policy(policy_id)
        self._loaded = -float("inf")


def _expanded(name: str, ctx: ActiveContext, terms: dict[str, str]) -> list[str]:
    """A name as the active @context expands it. A term it leaves to the default vocabulary that a data model
    named in the policy defines means both (an entity written without the model's @context has the former),
    so `ParkingSpot` covers the registered ParkingSpot model however its entities were written."""
    iri = ctx.expand(name)
    if iri == DEFAULT_VOCAB + name and name in terms:
        return [terms[name], iri]
    return [iri]


def _within_fence(admin: Principal, policy: Policy) -> None:
    if admin.tenants is None:
        return
    if policy.tenant is None or policy.tenant not in admin.tenants:
        raise Forbidden("name one of your tenants in the policy / 정책에 관리하는 테넌트를 지정하세요")
