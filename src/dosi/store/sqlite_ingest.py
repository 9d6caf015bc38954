"""The SQLite store's ingest tables: run-time data models, source configs, source status, rejection log."""

from __future__ import annotations

import fcntl
import os
import sqlite3
from contextlib import AbstractAsyncContextManager
from typing import Any

import orjson

from dosi.store.base import Rejection

REJECTION_COLUMNS = "tenant, source, outcome, reason, payload, received_at, seq, replayed_at"


def _rejection(row: Any) -> Rejection:
    return Rejection(*row)


class SqliteIngest:
    """Needs the store's connection, its unit-of-writing context and its database path."""

    path: str
    _leases: dict[str, int]

    @property
    def db(self) -> sqlite3.Connection:
        raise NotImplementedError

    def _writing(self) -> AbstractAsyncContextManager[None]:
        raise NotImplementedError

    async def _upsert(self, table: str, key: str, column: str, name: str, value: str, at: str, stamp: str) -> None:
        async with self._writing():
            self.db.execute(
                f"INSERT INTO {table} ({key}, {column}, {stamp}) VALUES (?, ?, ?)"
                f" ON CONFLICT ({key}) DO UPDATE SET {column} = excluded.{column}, {stamp} = excluded.{stamp}",
                (name, value, at),
            )

    async def put_model(self, type_name: str, doc: str, at: str) -> None:
        await self._upsert("data_models", "type", "doc", type_name, doc, at, "registered_at")

    async def list_models(self) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self.db.execute("SELECT type, doc FROM data_models ORDER BY type")]

    async def put_source(self, name: str, config: str, at: str) -> None:
        await self._upsert("ingest_sources", "name", "config", name, config, at, "updated_at")

    async def delete_source(self, name: str) -> bool:
        async with self._writing():
            return self.db.execute("DELETE FROM ingest_sources WHERE name = ?", (name,)).rowcount > 0

    async def list_sources(self) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self.db.execute("SELECT name, config FROM ingest_sources ORDER BY name")]

    async def save_status(self, name: str, doc: str, at: str) -> None:
        await self._upsert("ingest_status", "name", "doc", name, doc, at, "updated_at")

    async def list_status(self) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self.db.execute("SELECT name, doc FROM ingest_status ORDER BY name")]

    async def add_rejections(self, rows: list[Rejection]) -> None:
        async with self._writing():
            self.db.executemany(
                "INSERT INTO ingest_rejections (tenant, source, outcome, reason, payload, received_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(r.tenant, r.source, r.outcome, r.reason, r.payload, r.received_at) for r in rows],
            )

    async def rejections(
        self, source: str | None, after: int, limit: int, pending: bool, tenants: list[str] | None = None
    ) -> list[Rejection]:
        clauses = ["seq > ?"]
        params: list[Any] = [after]
        if source is not None:
            clauses.append("source = ?")
            params.append(source)
        if tenants is not None:
            clauses.append("tenant IN (SELECT value FROM json_each(?))")
            params.append(orjson.dumps(tenants).decode())
        if pending:
            clauses.append("replayed_at IS NULL AND outcome = 'rejected'")
        rows = self.db.execute(
            f"SELECT {REJECTION_COLUMNS} FROM ingest_rejections WHERE {' AND '.join(clauses)} ORDER BY seq LIMIT ?",
            [*params, limit],
        )
        return [_rejection(r) for r in rows]

    async def mark_replayed(self, seqs: list[int], at: str) -> None:
        async with self._writing():
            self.db.executemany("UPDATE ingest_rejections SET replayed_at = ? WHERE seq = ?", [(at, s) for s in seqs])

    async def try_lead(self, role: str) -> bool:
        """A lock file beside the database, held by this process until the store closes."""
        if role in self._leases:
            return True
        if self.path == ":memory:":
            self._leases[role] = -1
            return True
        fd = os.open(f"{self.path}-{role}", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._leases[role] = fd
        return True

    def _release_leases(self) -> None:
        for fd in self._leases.values():
            if fd >= 0:
                os.close(fd)
        self._leases.clear()
