"""Subscription use cases: create, retrieve, list, update, delete."""

from __future__ import annotations

from typing import Any

from dosi.errors import AlreadyExists, BadRequestData, ResourceNotFound
from dosi.ngsild import subscription as model
from dosi.ngsild.context import ActiveContext
from dosi.ngsild.model import is_uri, now_iso
from dosi.outbound import OutboundGuard
from dosi.security.context import principal, served_purpose
from dosi.service.contexts import ContextService
from dosi.store.base import EntityStore


class SubscriptionService:
    def __init__(self, store: EntityStore, contexts: ContextService, guard: OutboundGuard):
        self.store = store
        self.contexts = contexts
        self.guard = guard

    async def create(self, tenant: str, ctx: ActiveContext, ctx_value: Any, body: Any) -> str:
        now = now_iso()
        doc = model.parse(body, ctx, now)
        await self.guard.check_literal(doc["notification"]["endpoint"]["uri"], model.SCHEMES)
        doc["_context"] = ctx_value
        doc["_owner"] = principal().document()  # its notifications carry only what the owner may read
        purpose = served_purpose()
        if purpose is not None:
            doc["_purpose"] = purpose
        if "_jsonldContext" in doc:
            await self.contexts.resolve(doc["_jsonldContext"])  # must be available: LdContextNotAvailable if not
        elif not _single_url(ctx_value):
            doc["jsonldContext"] = (await self.contexts.implicit(ctx_value)).url
        if not await self.store.insert_subscription(tenant, doc):
            raise AlreadyExists(f"subscription {doc['id']} already exists")
        return str(doc["id"])

    async def get(self, tenant: str, sub_id: str) -> dict[str, Any]:
        """The subscription, if the request may see it: admins and operators see every one, others their own."""
        doc = await self.store.get_subscription(tenant, _checked(sub_id))
        if doc is None or not _visible(doc):
            raise ResourceNotFound(f"subscription {sub_id} not found")
        return doc

    async def list(self, tenant: str, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        who = principal()
        return await self.store.list_subscriptions(tenant, limit, offset, None if who.manages_all else who.name)

    async def update(self, tenant: str, ctx: ActiveContext, sub_id: str, fragment: Any) -> None:
        old = await self.get(tenant, sub_id)
        if not isinstance(fragment, dict) or not [k for k in fragment if k != "@context"]:
            raise BadRequestData("a subscription update needs at least one member")
        doc = model.parse(fragment, ctx, now_iso(), old=old)
        await self.guard.check_literal(doc["notification"]["endpoint"]["uri"], model.SCHEMES)
        if not await self.store.replace_subscription(tenant, doc):
            raise ResourceNotFound(f"subscription {sub_id} not found")

    async def delete(self, tenant: str, sub_id: str) -> None:
        await self.get(tenant, sub_id)
        if not await self.store.delete_subscription(tenant, _checked(sub_id)):
            raise ResourceNotFound(f"subscription {sub_id} not found")


def _visible(doc: dict[str, Any]) -> bool:
    who = principal()
    return who.manages_all or doc.get("_owner", {}).get("id") == who.name


def _checked(sub_id: str) -> str:
    if not is_uri(sub_id):
        raise BadRequestData(f"{sub_id!r} is not a valid subscription id")
    return sub_id


def _single_url(ctx_value: Any) -> bool:
    """None (the core context), a URL, or a one-URL array: no implicit context is needed."""
    if ctx_value is None or isinstance(ctx_value, str):
        return True
    return isinstance(ctx_value, list) and len(ctx_value) == 1 and isinstance(ctx_value[0], str)
