"""The PostgreSQL store's security tables: API keys, policies, secrets, the audit chain
(mixed into PostgresStore)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dosi.store.base import GENESIS, ApiKey, chain_hash

KEY_COLUMNS = "key_id, name, hash, roles, tenants, created_at, expires_at, revoked_at, last_used_at"
AUDIT_LOCK = 4_242_002  # advisory lock: one audit writer at a time, so the chain cannot fork


def _key(row: Any) -> ApiKey:
    return ApiKey(row[0], row[1], row[2], list(row[3]), row[4], row[5], row[6], row[7], row[8])


class PostgresSecurity:
    pool: Any

    async def put_api_key(self, key: ApiKey) -> None:
        await self.pool.execute(
            f"INSERT INTO api_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            key.key_id,
            key.name,
            key.hash,
            key.roles,
            key.tenants,
            key.created_at,
            key.expires_at,
            key.revoked_at,
            key.last_used_at,
        )

    async def get_api_key(self, key_id: str) -> ApiKey | None:
        row = await self.pool.fetchrow(f"SELECT {KEY_COLUMNS} FROM api_keys WHERE key_id = $1", key_id)
        return _key(row) if row else None

    async def list_api_keys(self) -> list[ApiKey]:
        return [_key(r) for r in await self.pool.fetch(f"SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at")]

    async def revoke_api_key(self, key_id: str, at: str) -> bool:
        status = await self.pool.execute(
            "UPDATE api_keys SET revoked_at = $2 WHERE key_id = $1 AND revoked_at IS NULL", key_id, at
        )
        return bool(status.endswith(" 1"))

    async def touch_api_key(self, key_id: str, at: str) -> None:
        await self.pool.execute("UPDATE api_keys SET last_used_at = $2 WHERE key_id = $1", key_id, at)

    async def secret(self, name: str, make: Callable[[], str]) -> str:
        value = await self.pool.fetchval("SELECT value FROM secrets WHERE name = $1", name)
        if value is None:
            await self.pool.execute(
                "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING", name, make()
            )
            value = await self.pool.fetchval("SELECT value FROM secrets WHERE name = $1", name)
        return str(value)

    async def append_audit(self, docs: list[str]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", AUDIT_LOCK)
            previous = await conn.fetchval("SELECT hash FROM audit ORDER BY seq DESC LIMIT 1") or GENESIS
            rows = []
            for doc in docs:
                previous = chain_hash(previous, doc)
                rows.append((doc, previous))
            await conn.executemany("INSERT INTO audit (doc, hash) VALUES ($1, $2)", rows)

    async def audit_log(self, after: int, limit: int) -> list[tuple[int, str, str]]:
        rows = await self.pool.fetch(
            "SELECT seq, doc, hash FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2", after, limit
        )
        return [(int(r[0]), r[1], r[2]) for r in rows]

    async def put_policy(self, policy_id: str, doc: str, at: str) -> None:
        await self.pool.execute(
            "INSERT INTO policies (policy_id, doc, updated_at) VALUES ($1, $2, $3)"
            " ON CONFLICT (policy_id) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at",
            policy_id,
            doc,
            at,
        )

    async def list_policies(self) -> list[tuple[str, str]]:
        rows = await self.pool.fetch("SELECT policy_id, doc FROM policies ORDER BY policy_id")
        return [(r[0], r[1]) for r in rows]

    async def delete_policy(self, policy_id: str) -> bool:
        return str(await self.pool.execute("DELETE FROM policies WHERE policy_id = $1", policy_id)) != "DELETE 0"
