"""The SQLite store's security tables: API keys, policies, secrets, the audit chain
(mixed into SqliteStore)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import orjson

from dosi.store.base import GENESIS, ApiKey, chain_hash

KEY_COLUMNS = "key_id, name, hash, roles, tenants, created_at, expires_at, revoked_at, last_used_at"


def _key(row: Any) -> ApiKey:
    tenants = orjson.loads(row[4]) if row[4] is not None else None
    return ApiKey(row[0], row[1], row[2], orjson.loads(row[3]), tenants, row[5], row[6], row[7], row[8])


class SqliteSecurity:
    """Needs the store's connection and its unit-of-writing context (group commit, file lock)."""

    @property
    def db(self) -> sqlite3.Connection:
        raise NotImplementedError

    def _writing(self) -> AbstractAsyncContextManager[None]:
        raise NotImplementedError

    async def put_api_key(self, key: ApiKey) -> None:
        async with self._writing():
            self.db.execute(
                f"INSERT INTO api_keys ({KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key.key_id,
                    key.name,
                    key.hash,
                    orjson.dumps(key.roles).decode(),
                    None if key.tenants is None else orjson.dumps(key.tenants).decode(),
                    key.created_at,
                    key.expires_at,
                    key.revoked_at,
                    key.last_used_at,
                ),
            )

    async def get_api_key(self, key_id: str) -> ApiKey | None:
        row = self.db.execute(f"SELECT {KEY_COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,)).fetchone()
        return _key(row) if row else None

    async def list_api_keys(self) -> list[ApiKey]:
        return [_key(r) for r in self.db.execute(f"SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at")]

    async def revoke_api_key(self, key_id: str, at: str) -> bool:
        async with self._writing():
            cursor = self.db.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL", (at, key_id)
            )
        return cursor.rowcount > 0

    async def touch_api_key(self, key_id: str, at: str) -> None:
        async with self._writing():
            self.db.execute("UPDATE api_keys SET last_used_at = ? WHERE key_id = ?", (at, key_id))

    async def secret(self, name: str, make: Callable[[], str]) -> str:
        row = self.db.execute("SELECT value FROM secrets WHERE name = ?", (name,)).fetchone()
        if row is None:
            async with self._writing():
                self.db.execute("INSERT OR IGNORE INTO secrets (name, value) VALUES (?, ?)", (name, make()))
            row = self.db.execute("SELECT value FROM secrets WHERE name = ?", (name,)).fetchone()
        return str(row[0])

    async def append_audit(self, docs: list[str]) -> None:
        async with self._writing():  # one writer at a time (the file lock): the chain cannot fork
            row = self.db.execute("SELECT hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
            previous = row[0] if row else GENESIS
            for doc in docs:
                previous = chain_hash(previous, doc)
                self.db.execute("INSERT INTO audit (doc, hash) VALUES (?, ?)", (doc, previous))

    async def audit_log(self, after: int, limit: int) -> list[tuple[int, str, str]]:
        rows = self.db.execute(
            "SELECT seq, doc, hash FROM audit WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
        ).fetchall()
        return [(int(r[0]), r[1], r[2]) for r in rows]

    async def put_policy(self, policy_id: str, doc: str, at: str) -> None:
        async with self._writing():
            self.db.execute(
                "INSERT INTO policies (policy_id, doc, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (policy_id) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at",
                (policy_id, doc, at),
            )

    async def list_policies(self) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self.db.execute("SELECT policy_id, doc FROM policies ORDER BY policy_id")]

    async def delete_policy(self, policy_id: str) -> bool:
        async with self._writing():
            cursor = self.db.execute("DELETE FROM policies WHERE policy_id = ?", (policy_id,))
        return cursor.rowcount > 0
