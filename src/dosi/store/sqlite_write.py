"""The write side of the SQLite store: one transaction's writes and the lock writers of one file queue on."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
from collections import Counter
from typing import TYPE_CHECKING, Any

import orjson

from dosi.ngsild.model import bbox
from dosi.store.base import (
    Entity,
    EntityQuery,
    HistoryRow,
    OutboxRow,
    Shape,
    attribute_rows,
    create_by_insert,
    geo_rows,
    indexed_part,
    shapes,
    value_rows,
)
from dosi.store.history_sql import COLUMNS
from dosi.store.sqlite_sql import GEO_SLOTS, SqliteWhere

if TYPE_CHECKING:
    from dosi.store.sqlite import SqliteStore

PREFETCH_CHUNK = 500  # ids per prefetch statement (SQLite allows 32,766 parameters)
BUCKET_BITS = 12  # type_buckets count entities per 4096 consecutive seq values


def json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def _only(entity: Entity, attributes: list[str]) -> Entity:
    """The entity's attributes of these names (for their index rows)."""
    held = entity.get("attrs", {})
    return {"attrs": {iri: held[iri] for iri in attributes if iri in held}}


class ShapeChanges:
    """What the units of a write group changed in the type_attrs counts, per tenant: the (type, attribute,
    attribute type) rows their entities gained and lost, kept as lists while the units run (extending a list is
    cheap) and counted once, when the group commits: the creates of one kind in a group cost one row."""

    def __init__(self) -> None:
        self.gained: dict[str, list[Shape]] = {}
        self.lost: dict[str, list[Shape]] = {}

    def add(self, tenant: str, gained: list[Shape], lost: list[Shape]) -> None:
        if gained:
            self.gained.setdefault(tenant, []).extend(gained)
        if lost:
            self.lost.setdefault(tenant, []).extend(lost)

    def write(self, db: sqlite3.Connection) -> None:
        rows = []
        for tenant in self.gained.keys() | self.lost.keys():
            counts = Counter(self.gained.get(tenant, ()))
            counts.subtract(self.lost.get(tenant, ()))
            rows += [(tenant, *shape, n) for shape, n in counts.items() if n]
        if rows:
            db.executemany(
                "INSERT INTO type_attrs (tenant, type, attr, atype, n) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (tenant, type, attr, atype) DO UPDATE SET n = n + excluded.n",
                rows,
            )

    def clear(self) -> None:
        self.gained.clear()
        self.lost.clear()


class WriterLock:
    """Serialises the writers of one database file across processes, without busy-waiting.

    SQLite's own busy handler sleeps 1, 2, 5 ... ms between tries and blocks the event loop meanwhile; a
    writer waiting here waits in a thread and wakes the moment the other process commits.
    """

    def __init__(self, path: str):
        self.path = None if path == ":memory:" else path + "-writer"
        self.fd: int | None = None

    async def acquire(self) -> None:
        if self.path is None:
            return
        if self.fd is None:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fd = self.fd
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        waiting = asyncio.get_running_loop().run_in_executor(None, fcntl.flock, fd, fcntl.LOCK_EX)
        try:
            await asyncio.shield(waiting)
        except asyncio.CancelledError:  # the thread still takes the lock: give it back when it does
            waiting.add_done_callback(self._release_when_taken)
            raise

    def _release_when_taken(self, done: asyncio.Future[None]) -> None:
        if not done.cancelled() and done.exception() is None:
            self.release()

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class SqliteTransaction:
    """One unit of a write group. It holds the file's write lock, so the rows it has read stay as read until it
    writes them itself: each entity's (seq, stored text) is kept after the first read, and a replace neither reads
    the row again nor looks its seq up."""

    def __init__(self, store: SqliteStore, tenant: str):
        self.db = store.db
        self.tenant = tenant
        self._rows: dict[str, tuple[int, str] | None] = {}  # id -> (seq, doc as stored), None: absent
        # the type_attrs rows its entities gained and lost, counted when its group commits (ShapeChanges)
        self.gained: list[Shape] = []
        self.lost: list[Shape] = []

    async def prefetch(self, entity_ids: list[str]) -> None:
        """Reads the entities in one statement per PREFETCH_CHUNK ids (on the id index: see SqliteWhere)."""
        wanted = [i for i in dict.fromkeys(entity_ids) if i not in self._rows]
        for start in range(0, len(wanted), PREFETCH_CHUNK):
            chunk = wanted[start : start + PREFETCH_CHUNK]
            rows = self.db.execute(
                "SELECT id, seq, doc FROM entities INDEXED BY entities_tenant_id"
                f" WHERE tenant = ? AND id IN ({', '.join('?' * len(chunk))})",
                [self.tenant, *chunk],
            ).fetchall()
            self._rows.update(dict.fromkeys(chunk))
            self._rows.update((entity_id, (seq, doc)) for entity_id, seq, doc in rows)

    def _row(self, entity_id: str) -> tuple[int, str] | None:
        if entity_id not in self._rows:
            found = self.db.execute(
                "SELECT seq, doc FROM entities WHERE tenant = ? AND id = ?", (self.tenant, entity_id)
            ).fetchone()
            self._rows[entity_id] = (int(found[0]), found[1]) if found else None
        return self._rows[entity_id]

    async def get(self, entity_id: str) -> Entity | None:
        row = self._row(entity_id)
        return orjson.loads(row[1]) if row else None

    async def insert(self, entity: Entity) -> bool:
        if self._rows.get(entity["id"]) is not None:
            return False  # held: the INSERT would fail
        text = json_text(entity)
        try:
            cursor = self.db.execute(
                "INSERT INTO entities (tenant, id, doc, created_at, modified_at) VALUES (?, ?, ?, ?, ?)",
                (self.tenant, entity["id"], text, entity["createdAt"], entity["modifiedAt"]),
            )
        except sqlite3.IntegrityError:
            return False
        seq = int(cursor.lastrowid or 0)
        self._rows[entity["id"]] = (seq, text)
        self._index(seq, entity)
        self.db.execute("INSERT OR IGNORE INTO tenants (tenant) VALUES (?)", (self.tenant,))
        return True

    async def flush(self, last: bool = False) -> bool:
        return True  # nothing is held: each write is executed at once, under the file's write lock

    async def create(self, entity: Entity) -> None:
        await create_by_insert(self, entity)

    async def replace(self, entity: Entity) -> None:
        row = self._row(entity["id"])
        if row is None:
            await self.insert(entity)
            return
        seq, stored = row
        text = json_text(entity)
        self.db.execute("UPDATE entities SET doc = ?, modified_at = ? WHERE seq = ?", (text, entity["modifiedAt"], seq))
        self._rows[entity["id"]] = (seq, text)
        self._reindex(seq, orjson.loads(stored), entity)

    def _reindex(self, seq: int, old: Entity, new: Entity) -> None:
        """Only the index rows that changed: an update of one value touches one value row, not every index."""
        if set(old["type"]) != set(new["type"]):
            self._unindex(seq)
            self._index(seq, new)
            return
        before, after = old.get("attrs", {}), new.get("attrs", {})
        named = before.keys() | after.keys()
        changed = [
            iri
            for iri in named
            if before.get(iri) != after.get(iri) and indexed_part(before.get(iri)) != indexed_part(after.get(iri))
        ]
        if not changed:
            return
        whole = new
        if len(changed) < len(named):  # index rows are per attribute: those of the others stay as they are
            old, new = _only(old, changed), _only(new, changed)
        tenant = self.tenant
        old_attrs, new_attrs = set(attribute_rows(old)), set(attribute_rows(new))
        self.lost += shapes(whole["type"], old_attrs - new_attrs)
        self.gained += shapes(whole["type"], new_attrs - old_attrs)
        self._many(
            "DELETE FROM entity_attrs WHERE tenant = ? AND attr = ? AND seq = ? AND atype = ?",
            [(tenant, attr, seq, atype) for attr, atype in old_attrs - new_attrs],
        )
        self._many(
            "INSERT OR IGNORE INTO entity_attrs (tenant, attr, seq, atype) VALUES (?, ?, ?, ?)",
            [(tenant, attr, seq, atype) for attr, atype in new_attrs - old_attrs],
        )
        old_values, new_values = set(value_rows(old)), set(value_rows(new))
        self._many(
            "DELETE FROM entity_values WHERE seq = ? AND attr = ? AND num IS ? AND txt IS ?",
            [(seq, attr, num, txt) for attr, num, txt in old_values - new_values],
        )
        self._many(
            "INSERT INTO entity_values (tenant, attr, seq, num, txt) VALUES (?, ?, ?, ?, ?)",
            [(tenant, attr, seq, num, txt) for attr, num, txt in new_values - old_values],
        )
        if geo_rows(old) != geo_rows(new):
            self._unindex_geo(seq)
            self._index_geo(seq, whole)

    def _many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:  # an empty executemany still costs microseconds: most updates change one value of one index
            self.db.executemany(sql, rows)

    async def delete(self, entity_id: str) -> bool:
        row = self._row(entity_id)
        if row is None:
            return False
        self._delete_seq(row[0])
        self._rows[entity_id] = None
        await self.delete_history(entity_id)
        return True

    async def delete_matching(self, query: EntityQuery) -> int:
        builder = SqliteWhere()
        where, params = builder.build(query)
        rows = self.db.execute(f"SELECT e.seq, e.id FROM {builder.source} WHERE {where}", params).fetchall()
        seqs = [r[0] for r in rows]
        for seq, entity_id in rows:
            self._delete_seq(seq)
            self._rows[entity_id] = None
            await self.delete_history(entity_id)
        return len(seqs)

    async def subscriptions(self) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT doc FROM subscriptions WHERE tenant = ? ORDER BY seq", (self.tenant,))
        return [orjson.loads(r[0]) for r in rows]

    async def add_outbox(self, rows: list[OutboxRow]) -> None:
        self.db.executemany(
            "INSERT INTO outbox (tenant, subscription_id, notification_id, endpoint, payload, created_at, next_at)"
            " VALUES (?, ?, ?, ?, ?, ?, 0)",
            [
                (r.tenant, r.subscription_id, r.notification_id, json_text(r.endpoint), r.payload, r.created_at)
                for r in rows
            ],
        )

    async def add_history(self, rows: list[HistoryRow], upsert: bool = False) -> None:
        if upsert:  # one instance per (attribute, datasetId, observedAt)
            self.db.executemany(
                "DELETE FROM history WHERE tenant = ? AND entity_id = ? AND attr = ? AND dataset_id IS ?"
                " AND observed_ts IS ?",
                [(self.tenant, r.entity_id, r.attr, r.dataset_id, r.observed_ts) for r in rows],
            )
        self.db.executemany(
            f"INSERT INTO history (tenant, {COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    self.tenant,
                    r.entity_id,
                    json_text(r.types),
                    r.attr,
                    r.instance_id,
                    r.dataset_id,
                    r.observed_ts,
                    r.created_ts,
                    r.modified_ts,
                    r.deleted_ts,
                    r.num,
                    json_text(r.doc),
                )
                for r in rows
            ],
        )

    async def delete_history(
        self,
        entity_id: str,
        attr: str | None = None,
        dataset_id: str | None = None,
        every_dataset: bool = True,
        instance_id: str | None = None,
    ) -> int:
        sql = "DELETE FROM history WHERE tenant = ? AND entity_id = ?"
        params: list[Any] = [self.tenant, entity_id]
        if attr is not None:
            sql += " AND attr = ?"
            params.append(attr)
        if not every_dataset:
            sql += " AND dataset_id IS ?"
            params.append(dataset_id)
        if instance_id is not None:
            sql += " AND instance_id = ?"
            params.append(instance_id)
        return int(self.db.execute(sql, params).rowcount)

    async def replace_history_instance(self, row: HistoryRow) -> bool:
        cursor = self.db.execute(
            "UPDATE history SET observed_ts = ?, modified_ts = ?, num = ?, doc = ?, dataset_id = ?"
            " WHERE tenant = ? AND entity_id = ? AND attr = ? AND instance_id = ?",
            (
                row.observed_ts,
                row.modified_ts,
                row.num,
                json_text(row.doc),
                row.dataset_id,
                self.tenant,
                row.entity_id,
                row.attr,
                row.instance_id,
            ),
        )
        return cursor.rowcount > 0

    def _delete_seq(self, seq: int) -> None:
        self.db.execute("DELETE FROM entities WHERE seq = ?", (seq,))
        self._unindex(seq)

    def _unindex(self, seq: int) -> None:
        types = [r[0] for r in self.db.execute("SELECT type FROM entity_types WHERE seq = ?", (seq,))]
        attributes = self.db.execute("SELECT attr, atype FROM entity_attrs WHERE seq = ?", (seq,))
        self.lost += shapes(types, attributes)
        self.db.executemany(
            "UPDATE type_buckets SET n = n - 1 WHERE tenant = ? AND type = ? AND bucket = ?",
            [(self.tenant, t, seq >> BUCKET_BITS) for t in types],
        )
        self.db.execute("DELETE FROM entity_types WHERE seq = ?", (seq,))
        self.db.execute("DELETE FROM entity_attrs WHERE seq = ?", (seq,))
        self.db.execute("DELETE FROM entity_values WHERE seq = ?", (seq,))
        self._unindex_geo(seq)

    def _unindex_geo(self, seq: int) -> None:
        # an R*Tree finds rows by exact id only (a range scans the whole tree); _index fills slots 0, 1, 2, ...
        for slot in range(GEO_SLOTS):
            if self.db.execute("DELETE FROM entity_geo WHERE id = ?", (seq * GEO_SLOTS + slot,)).rowcount == 0:
                break

    def _index(self, seq: int, entity: Entity) -> None:
        tenant = self.tenant
        self.db.executemany(
            "INSERT OR IGNORE INTO entity_types (tenant, type, seq) VALUES (?, ?, ?)",
            [(tenant, t, seq) for t in entity["type"]],
        )
        self.db.executemany(
            "INSERT INTO type_buckets (tenant, type, bucket, n) VALUES (?, ?, ?, 1)"
            " ON CONFLICT (tenant, type, bucket) DO UPDATE SET n = n + 1",
            [(tenant, t, seq >> BUCKET_BITS) for t in set(entity["type"])],
        )
        attributes = attribute_rows(entity)
        self.db.executemany(
            "INSERT OR IGNORE INTO entity_attrs (tenant, attr, seq, atype) VALUES (?, ?, ?, ?)",
            [(tenant, attr, seq, atype) for attr, atype in attributes],
        )
        self.gained += shapes(entity["type"], attributes)
        self.db.executemany(
            "INSERT INTO entity_values (tenant, attr, seq, num, txt) VALUES (?, ?, ?, ?, ?)",
            [(tenant, attr, seq, num, txt) for attr, num, txt in value_rows(entity)],
        )
        self._index_geo(seq, entity)

    def _index_geo(self, seq: int, entity: Entity) -> None:
        tenant = self.tenant
        rows = []
        for slot, (attr, geometry) in enumerate(geo_rows(entity)[:GEO_SLOTS]):
            minx, miny, maxx, maxy = bbox(geometry)
            rows.append((seq * GEO_SLOTS + slot, minx, maxx, miny, maxy, tenant, seq, attr, json_text(geometry)))
        if rows:
            self.db.executemany(
                "INSERT INTO entity_geo (id, minx, maxx, miny, maxy, tenant, seq, attr, geojson)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
