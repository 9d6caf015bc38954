"""The write side of the PostgreSQL store: one transaction's writes, held and flushed in one statement."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from dosi.errors import AlreadyExists, CreatedConcurrently
from dosi.store.base import (
    Entity,
    EntityQuery,
    HistoryRow,
    OutboxRow,
)
from dosi.store.postgres_flush import SUBSCRIPTIONS_VERSION, Changes, IndexRows, WriteStatement
from dosi.store.postgres_sql import PostgresWhere

SUBSCRIPTIONS_CHANGED = "DS001"  # raised by subscriptions_changed()
UNIQUE_VIOLATION = "23505"
VERSION_SQL = f"SELECT {SUBSCRIPTIONS_VERSION}"
# the tenant's subscriptions and their version, as of one snapshot
SUBSCRIPTIONS_SQL = f"""
SELECT {SUBSCRIPTIONS_VERSION},
       coalesce((SELECT array_agg(doc ORDER BY seq) FROM subscriptions WHERE tenant = $1), '{{}}')
"""
UNINDEX_SQL = """
WITH gone AS (
    DELETE FROM entity_types t WHERE t.seq = ANY($1::bigint[]) RETURNING t.tenant, t.type, t.seq
), buckets AS (
    INSERT INTO type_buckets (tenant, type, bucket, shard, n)
    SELECT tenant, type, seq >> 12, pg_backend_pid() % 64, -count(*) FROM gone GROUP BY 1, 2, 3
    ON CONFLICT (tenant, type, bucket, shard) DO UPDATE SET n = type_buckets.n + EXCLUDED.n
), spans AS (
    INSERT INTO type_spans (tenant, type, span, shard, n)
    SELECT tenant, type, seq >> 18, pg_backend_pid() % 64, -count(*) FROM gone GROUP BY 1, 2, 3
    ON CONFLICT (tenant, type, span, shard) DO UPDATE SET n = type_spans.n + EXCLUDED.n
), shapes AS (
    INSERT INTO type_attrs (tenant, type, attr, atype, shard, n)
    SELECT g.tenant, g.type, a.attr, a.atype, pg_backend_pid() % 64, -count(*)
    FROM gone g JOIN entity_attrs a ON a.seq = g.seq GROUP BY 1, 2, 3, 4
    ON CONFLICT (tenant, type, attr, atype, shard) DO UPDATE SET n = type_attrs.n + EXCLUDED.n
), attrs AS (
    DELETE FROM entity_attrs WHERE seq = ANY($1::bigint[])
), vals AS (
    DELETE FROM entity_values WHERE seq = ANY($1::bigint[])
)
DELETE FROM entity_geo WHERE seq = ANY($1::bigint[])
"""


@dataclass(frozen=True)
class Subscriptions:
    """A tenant's subscriptions as of `version`."""

    version: int
    docs: list[dict[str, Any]]


@dataclass
class _Pending:
    """An entity write held until the transaction flushes, with its index rows computed when it was made."""

    new: bool
    doc: str
    created: str
    modified: str
    rows: IndexRows

    @classmethod
    def of(cls, entity: Entity, new: bool) -> _Pending:
        doc = orjson.dumps(entity).decode()
        return cls(new, doc, entity["createdAt"], entity["modifiedAt"], IndexRows.of(entity))


class PostgresTransaction:
    """Writes of one transaction. Entity writes, history instances and outbox rows are held and flushed together in
    one statement whatever their number; entities a transaction reads are locked (FOR UPDATE) and remembered.

    BEGIN is sent with the first statement that needs it. A transaction whose only statement is its last flush
    sends that statement alone (one round trip, committed as it runs): a create is one round trip, not three.
    """

    def __init__(self, conn: Any, tenant: str, subscriptions: dict[str, Subscriptions]):
        self._conn = conn
        self.begun = False  # BEGIN was sent: the store commits or rolls back
        self.ended = False  # the last flush was sent alone and committed: nothing may follow
        self._unchecked = False  # statements ran since the subscriptions' version was last checked
        self.tenant = tenant
        self._subscriptions = subscriptions  # the process's, by tenant (shared by its transactions)
        self._version: int | None = None  # of the subscriptions this transaction was given
        self.dropped_outbox = False  # outbox rows were held against subscriptions that had changed
        self._known: dict[str, str | None] = {}  # id -> stored document (JSON text) or None when absent
        self._pending: dict[str, _Pending] = {}
        self._history: list[HistoryRow] = []
        self._outbox: list[OutboxRow] = []

    @property
    def held(self) -> bool:
        return bool(self._pending or self._history or self._outbox)

    async def _began(self) -> Any:
        """The connection, inside the transaction block (BEGIN sent the first time)."""
        assert not self.ended, "the transaction's last statement was sent"
        if not self.begun:
            await self._conn.execute("BEGIN")
            self.begun = True
        self._unchecked = True
        return self._conn

    async def prefetch(self, entity_ids: list[str]) -> None:
        missing = sorted({i for i in entity_ids if i not in self._known and i not in self._pending})
        if not missing:
            return
        conn = await self._began()
        rows = await conn.fetch(
            "SELECT id, doc::text FROM entities WHERE tenant = $1 AND id = ANY($2::text[]) ORDER BY id FOR UPDATE",
            self.tenant,
            missing,
        )
        found = {r[0]: r[1] for r in rows}
        for entity_id in missing:
            self._known[entity_id] = found.get(entity_id)

    async def get(self, entity_id: str) -> Entity | None:
        if entity_id in self._pending:
            return orjson.loads(self._pending[entity_id].doc)
        await self.prefetch([entity_id])
        text = self._known[entity_id]
        return None if text is None else orjson.loads(text)

    async def insert(self, entity: Entity) -> bool:
        entity_id = entity["id"]
        if entity_id in self._pending:
            return False
        await self.prefetch([entity_id])
        if self._known[entity_id] is not None:
            return False
        self._pending[entity_id] = _Pending.of(entity, new=True)
        return True

    async def create(self, entity: Entity) -> None:
        """Insert without reading first: an id that exists raises AlreadyExists when the transaction writes."""
        entity_id = entity["id"]
        if entity_id in self._pending or self._known.get(entity_id) is not None:
            raise AlreadyExists(f"entity {entity_id} already exists")
        self._pending[entity_id] = _Pending.of(entity, new=True)

    async def replace(self, entity: Entity) -> None:
        entity_id = entity["id"]
        if entity_id in self._pending:
            new = self._pending[entity_id].new
        else:
            await self.prefetch([entity_id])
            new = self._known[entity_id] is None
        self._pending[entity_id] = _Pending.of(entity, new=new)

    async def flush(self, last: bool = False) -> bool:
        """Write what is held (entities, their index rows, history, outbox) in one statement. False when the
        tenant's subscriptions changed since `subscriptions()` answered: the outbox rows held were not written
        (and, when the statement was sent alone, nothing was: the rest is held again). `last`: no statement of
        this transaction follows."""
        if not self.held:  # statements ran (a delete) and wrote no document: check the version on its own
            return self._version is None or not self._unchecked or await self._same_subscriptions()
        alone = last and not self.begun
        pending, self._pending = self._pending, {}
        changes = Changes(history=self._history, outbox=self._outbox)
        self._history, self._outbox = [], []
        items = list(pending.items())
        for entity_id, item in items:
            old = None
            if not item.new:  # an update read (and locked) the document it replaces: its index rows are the old ones
                stored = self._known[entity_id]
                assert stored is not None, "an update replaces a stored entity"
                old = IndexRows.of(orjson.loads(stored))
            changes.write(entity_id, item.doc, item.created, item.modified, item.rows, old)
        statement = WriteStatement.of(self.tenant, changes, self._version, alone)
        try:
            conn = self._conn if alone else await self._began()
            rows = await conn.fetch(statement.sql, *statement.params)
        except Exception as err:
            if not alone:
                raise
            if getattr(err, "sqlstate", None) == SUBSCRIPTIONS_CHANGED:
                self._pending, self._history = pending, changes.history
                return self._subscriptions_changed(bool(changes.outbox))
            if getattr(err, "sqlstate", None) == UNIQUE_VIOLATION:
                raise AlreadyExists(f"entity {_existing(err, items)} already exists") from None
            raise
        self.ended = alone
        written = {r[0] for r in rows if r[0] is not None}
        raced = [i for i, p in items if p.new and i not in written]
        if raced and all(i in self._known for i in raced):  # read as absent, then created by another transaction
            raise CreatedConcurrently(f"entity {raced[0]} was created concurrently")
        if raced:  # never read by this transaction (create)
            raise AlreadyExists(f"entity {raced[0]} already exists")
        for entity_id, item in items:
            self._known[entity_id] = item.doc
        version = next(r[1] for r in rows if r[0] is None and r[1] is not None)
        if self._version is None or version == self._version:
            self._unchecked = False
            return True
        return self._subscriptions_changed(bool(changes.outbox))

    async def _same_subscriptions(self) -> bool:
        conn = await self._began()
        if await conn.fetchval(VERSION_SQL, self.tenant) == self._version:
            self._unchecked = False
            return True
        return self._subscriptions_changed(self.dropped_outbox)

    def _subscriptions_changed(self, dropped_outbox: bool) -> bool:
        """False, for flush(): the tenant's subscriptions are read again; `dropped_outbox`: rows were not written."""
        self._subscriptions.pop(self.tenant, None)
        self.dropped_outbox = dropped_outbox
        return False

    async def delete(self, entity_id: str) -> bool:
        await self.flush()
        conn = await self._began()
        seq = await conn.fetchval(
            "DELETE FROM entities WHERE tenant = $1 AND id = $2 RETURNING seq", self.tenant, entity_id
        )
        self._known[entity_id] = None
        if seq is None:
            return False
        await self.delete_history(entity_id)
        await self._unindex([seq])
        return True

    async def delete_matching(self, query: EntityQuery) -> int:
        await self.flush()
        self._known.clear()
        conn = await self._began()
        await conn.execute("SET LOCAL plan_cache_mode = auto")  # a query's plan depends on its values
        where = PostgresWhere()
        sql = where.build(query)
        rows = await conn.fetch(f"SELECT e.seq, e.id FROM {where.source} WHERE {sql} FOR UPDATE OF e", *where.params)
        seqs = [r[0] for r in rows]
        await self._unindex(seqs)
        await conn.execute("DELETE FROM entities WHERE seq = ANY($1::bigint[])", seqs)
        await conn.execute(
            "DELETE FROM history WHERE tenant = $1 AND entity_id = ANY($2::text[])", self.tenant, [r[1] for r in rows]
        )
        return len(seqs)

    async def subscriptions(self) -> list[dict[str, Any]]:
        """The tenant's subscriptions, kept by the process; flush() tells when they changed meanwhile."""
        held = self._subscriptions.get(self.tenant)
        if held is None:
            conn = await self._began()
            version, docs = await conn.fetchrow(SUBSCRIPTIONS_SQL, self.tenant)
            held = self._subscriptions[self.tenant] = Subscriptions(version, docs)
        self._version = held.version
        return list(held.docs)

    async def add_outbox(self, rows: list[OutboxRow]) -> None:
        self._outbox += rows  # written by flush, with the wake-up that listeners receive at commit

    async def add_history(self, rows: list[HistoryRow], upsert: bool = False) -> None:
        if not rows:
            return
        if upsert:  # one instance per (attribute, datasetId, observedAt): the ones they replace go first
            await self.flush()
            timed = [r for r in rows if r.observed_ts is not None]
            conn = await self._began()
            await conn.execute(
                "DELETE FROM history h USING unnest($2::text[], $3::text[], $4::text[], $5::float8[])"
                " AS u(entity_id, attr, dataset_id, observed_ts)"
                " WHERE h.tenant = $1 AND h.entity_id = u.entity_id AND h.attr = u.attr"
                " AND h.observed_ts = u.observed_ts AND h.dataset_id IS NOT DISTINCT FROM u.dataset_id",
                self.tenant,
                [r.entity_id for r in timed],
                [r.attr for r in timed],
                [r.dataset_id for r in timed],
                [r.observed_ts for r in timed],
            )
            await conn.executemany(
                "DELETE FROM history WHERE tenant = $1 AND entity_id = $2 AND attr = $3"
                " AND dataset_id IS NOT DISTINCT FROM $4 AND observed_ts IS NULL",
                [(self.tenant, r.entity_id, r.attr, r.dataset_id) for r in rows if r.observed_ts is None],
            )
        self._history += rows

    async def delete_history(
        self,
        entity_id: str,
        attr: str | None = None,
        dataset_id: str | None = None,
        every_dataset: bool = True,
        instance_id: str | None = None,
    ) -> int:
        await self.flush()
        sql = "DELETE FROM history WHERE tenant = $1 AND entity_id = $2"
        params: list[Any] = [self.tenant, entity_id]
        if attr is not None:
            params.append(attr)
            sql += f" AND attr = ${len(params)}"
        if not every_dataset:
            params.append(dataset_id)
            sql += f" AND dataset_id IS NOT DISTINCT FROM ${len(params)}"
        if instance_id is not None:
            params.append(instance_id)
            sql += f" AND instance_id = ${len(params)}"
        conn = await self._began()
        status = await conn.execute(sql, *params)
        return int(status.split()[-1])

    async def replace_history_instance(self, row: HistoryRow) -> bool:
        await self.flush()
        conn = await self._began()
        status = await conn.execute(
            "UPDATE history SET observed_ts = $1, modified_ts = $2, num = $3, doc = $4, dataset_id = $5"
            " WHERE tenant = $6 AND entity_id = $7 AND attr = $8 AND instance_id = $9",
            row.observed_ts,
            row.modified_ts,
            row.num,
            row.doc,
            row.dataset_id,
            self.tenant,
            row.entity_id,
            row.attr,
            row.instance_id,
        )
        return bool(status.endswith(" 1"))

    async def _unindex(self, seqs: list[int]) -> None:
        if seqs:
            conn = await self._began()
            await conn.execute(UNINDEX_SQL, seqs)


def _existing(err: Exception, items: list[tuple[str, _Pending]]) -> str:
    """The id a unique violation names (its detail reads 'Key (tenant, id)=(t, urn:...) already exists.')."""
    found = re.search(r"\)=\(.*?, (.*)\) already exists", getattr(err, "detail", None) or "")
    return found.group(1) if found else next(i for i, p in items if p.new)
