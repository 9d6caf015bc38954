"""The PostgreSQL store's ingest tables: run-time data models, source configs, source status, rejection log."""

from __future__ import annotations

import zlib
from typing import Any

from dosi.store.base import Rejection

REJECTION_COLUMNS = "tenant, source, outcome, reason, payload, received_at, seq, replayed_at"


class PostgresIngest:
    pool: Any
    url: str
    _leases: dict[str, Any]

    async def _upsert(self, table: str, key: str, column: str, name: str, value: str, at: str, stamp: str) -> None:
        await self.pool.execute(
            f"INSERT INTO {table} ({key}, {column}, {stamp}) VALUES ($1, $2, $3)"
            f" ON CONFLICT ({key}) DO UPDATE SET {column} = excluded.{column}, {stamp} = excluded.{stamp}",
            name,
            value,
            at,
        )

    async def put_model(self, type_name: str, doc: str, at: str) -> None:
        await self._upsert("data_models", "type", "doc", type_name, doc, at, "registered_at")

    async def list_models(self) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in await self.pool.fetch("SELECT type, doc FROM data_models ORDER BY type")]

    async def put_source(self, name: str, config: str, at: str) -> None:
        await self._upsert("ingest_sources", "name", "config", name, config, at, "updated_at")

    async def delete_source(self, name: str) -> bool:
        status = await self.pool.execute("DELETE FROM ingest_sources WHERE name = $1", name)
        return bool(status.endswith(" 1"))

    async def list_sources(self) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in await self.pool.fetch("SELECT name, config FROM ingest_sources ORDER BY name")]

    async def save_status(self, name: str, doc: str, at: str) -> None:
        await self._upsert("ingest_status", "name", "doc", name, doc, at, "updated_at")

    async def list_status(self) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in await self.pool.fetch("SELECT name, doc FROM ingest_status ORDER BY name")]

    async def add_rejections(self, rows: list[Rejection]) -> None:
        await self.pool.executemany(
            "INSERT INTO ingest_rejections (tenant, source, outcome, reason, payload, received_at)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            [(r.tenant, r.source, r.outcome, r.reason, r.payload, r.received_at) for r in rows],
        )

    async def rejections(
        self, source: str | None, after: int, limit: int, pending: bool, tenants: list[str] | None = None
    ) -> list[Rejection]:
        clauses = ["seq > $1"]
        params: list[Any] = [after]
        if source is not None:
            params.append(source)
            clauses.append(f"source = ${len(params)}")
        if tenants is not None:
            params.append(tenants)
            clauses.append(f"tenant = ANY(${len(params)})")
        if pending:
            clauses.append("replayed_at IS NULL AND outcome = 'rejected'")
        params.append(limit)
        rows = await self.pool.fetch(
            f"SELECT {REJECTION_COLUMNS} FROM ingest_rejections WHERE {' AND '.join(clauses)}"
            f" ORDER BY seq LIMIT ${len(params)}",
            *params,
        )
        return [Rejection(*r) for r in rows]

    async def mark_replayed(self, seqs: list[int], at: str) -> None:
        await self.pool.execute("UPDATE ingest_rejections SET replayed_at = $1 WHERE seq = ANY($2)", at, seqs)

    async def try_lead(self, role: str) -> bool:
        """A session advisory lock on a connection of its own, held until the store closes (or the process dies)."""
        if role in self._leases:
            return True
        import asyncpg

        conn = await asyncpg.connect(self.url)
        if await conn.fetchval("SELECT pg_try_advisory_lock($1)", zlib.crc32(role.encode())):
            self._leases[role] = conn
            return True
        await conn.close()
        return False

    async def _release_leases(self) -> None:
        for conn in self._leases.values():
            await conn.close()
        self._leases.clear()
