"""API keys as a service, for `dosi keys` and the admin API: issue (shown once), list, revoke.

An admin fenced to some tenants manages only keys within that fence: it cannot mint a key for another
tenant, nor one for every tenant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dosi.errors import BadRequestData, Forbidden, ResourceNotFound
from dosi.ngsild.model import now_iso
from dosi.security import apikeys
from dosi.security.principal import ROLE_ACTIONS
from dosi.store.base import ApiKey, EntityStore


@dataclass
class Issued:
    key: ApiKey
    text: str  # the key itself: shown once, never stored


def describe(key: ApiKey) -> dict[str, Any]:
    """What may be shown of a key: never its secret, nor its hash."""
    return {
        "id": key.key_id,
        "name": key.name,
        "roles": key.roles,
        "tenants": key.tenants,
        "createdAt": key.created_at,
        "expiresAt": key.expires_at,
        "revokedAt": key.revoked_at,
        "lastUsedAt": key.last_used_at,
    }


class KeyService:
    def __init__(self, store: EntityStore):
        self.store = store

    async def issue(
        self,
        name: str,
        roles: list[str],
        tenants: list[str] | None,
        days: float | None = None,
        fence: frozenset[str] | None = None,
    ) -> Issued:
        """A new key; `tenants` None means every tenant; `fence` is the issuing admin's tenants (None: all)."""
        if not name or len(name) > 100:
            raise BadRequestData("a key needs a name of 1 to 100 characters / 키 이름이 필요합니다")
        unknown = [r for r in roles if r not in ROLE_ACTIONS]
        if unknown:
            raise BadRequestData(f"roles must be some of {', '.join(sorted(ROLE_ACTIONS))}")
        if days is not None and not 0 < days <= 3650:
            raise BadRequestData("days must be between 0 and 3650")
        if not _within(tenants, fence):
            raise Forbidden(
                "you may issue keys only for your own tenants / 자신의 테넌트에 대해서만 발급할 수 있습니다"
            )
        fresh = apikeys.new_key()
        expires = None
        if days is not None:
            expires = (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
        key = ApiKey(fresh.key_id, name, fresh.hash, list(roles), tenants, now_iso(), expires)
        await self.store.put_api_key(key)
        return Issued(key, fresh.text)

    async def listed(self, fence: frozenset[str] | None = None) -> list[ApiKey]:
        return [k for k in await self.store.list_api_keys() if _within(k.tenants, fence)]

    async def revoke(self, key_id: str, fence: frozenset[str] | None = None) -> None:
        key = await self.store.get_api_key(key_id)
        if key is None or key.revoked_at is not None or not _within(key.tenants, fence):
            raise ResourceNotFound(f"no active key {key_id} / 활성 키가 없습니다")
        await self.store.revoke_api_key(key_id, now_iso())


def _within(tenants: list[str] | None, fence: frozenset[str] | None) -> bool:
    if fence is None:
        return True
    return tenants is not None and set(tenants) <= fence
