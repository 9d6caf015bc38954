"""The write side of the PostgreSQL store: one transaction's entity writes, held and flushed in bulk."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from dosi.errors import AlreadyExists
from dosi.store.base import (
    Entity,
    EntityQuery,
    HistoryRow,
    OutboxRow,
    attribute_rows,
    geo_rows,
    value_rows,
)
from dosi.store.history_sql import COLUMNS
from dosi.store.postgres_sql import PostgresWhere

# Index upkeep in one statement each (data-modifying CTEs): round trips, not rows, are what writes wait on.
# type_buckets rows are shared by every writer of a type: they change only when an entity's types do.
REPLACE_SQL = """
WITH upd AS (
    UPDATE entities e SET doc = u.doc::jsonb, modified_at = u.modified
    FROM unnest($2::text[], $3::text[], $4::text[]) AS u(id, doc, modified)
    WHERE e.tenant = $1 AND e.id = u.id RETURNING e.id, e.seq
), kept AS (
    SELECT upd.seq, k.type FROM upd JOIN unnest($5::text[], $6::text[]) AS k(id, type) ON k.id = upd.id
), gone AS (
    DELETE FROM entity_types t USING upd WHERE t.seq = upd.seq
    AND NOT EXISTS (SELECT 1 FROM kept WHERE kept.seq = t.seq AND kept.type = t.type)
    RETURNING t.tenant, t.type, t.seq
), buckets AS (
    UPDATE type_buckets b SET n = b.n - c.k
    FROM (SELECT tenant, type, seq >> 12 AS bucket, count(*) AS k FROM gone GROUP BY 1, 2, 3) AS c
    WHERE b.tenant = c.tenant AND b.type = c.type AND b.bucket = c.bucket
), attrs AS (
    DELETE FROM entity_attrs x USING upd WHERE x.seq = upd.seq
), vals AS (
    DELETE FROM entity_values x USING upd WHERE x.seq = upd.seq
), geos AS (
    DELETE FROM entity_geo x USING upd WHERE x.seq = upd.seq
)
SELECT id, seq FROM upd
"""
INSERT_SQL = """
WITH ins AS (
    INSERT INTO entities (tenant, id, doc, created_at, modified_at)
    SELECT $1, u.id, u.doc::jsonb, u.created, u.modified
    FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS u(id, doc, created, modified)
    ON CONFLICT (tenant, id) DO NOTHING RETURNING id, seq
), tenant AS (
    INSERT INTO tenants (tenant) VALUES ($1) ON CONFLICT DO NOTHING
)
SELECT id, seq FROM ins
"""
UNINDEX_SQL = """
WITH gone AS (
    DELETE FROM entity_types t WHERE t.seq = ANY($1::bigint[]) RETURNING t.tenant, t.type, t.seq
), buckets AS (
    UPDATE type_buckets b SET n = b.n - c.k
    FROM (SELECT tenant, type, seq >> 12 AS bucket, count(*) AS k FROM gone GROUP BY 1, 2, 3) AS c
    WHERE b.tenant = c.tenant AND b.type = c.type AND b.bucket = c.bucket
), attrs AS (
    DELETE FROM entity_attrs WHERE seq = ANY($1::bigint[])
), vals AS (
    DELETE FROM entity_values WHERE seq = ANY($1::bigint[])
)
DELETE FROM entity_geo WHERE seq = ANY($1::bigint[])
"""
INDEX_SQL = """
WITH added AS (
    INSERT INTO entity_types (tenant, type, seq) SELECT $1, u.type, u.seq
    FROM unnest($2::text[], $3::bigint[]) AS u(type, seq) ON CONFLICT DO NOTHING RETURNING type, seq
), attrs AS (
    INSERT INTO entity_attrs (tenant, attr, seq, atype) SELECT $1, u.attr, u.seq, u.atype
    FROM unnest($4::text[], $5::bigint[], $6::text[]) AS u(attr, seq, atype) ON CONFLICT DO NOTHING
), vals AS (
    INSERT INTO entity_values (tenant, attr, seq, num, txt) SELECT $1, u.attr, u.seq, u.num, u.txt
    FROM unnest($7::text[], $8::bigint[], $9::float8[], $10::text[]) AS u(attr, seq, num, txt)
), geos AS (
    INSERT INTO entity_geo (seq, tenant, attr, geom)
    SELECT u.seq, $1, u.attr, ST_MakeValid(ST_SetSRID(ST_GeomFromGeoJSON(u.geojson), 4326))
    FROM unnest($11::bigint[], $12::text[], $13::text[]) AS u(seq, attr, geojson)
)
INSERT INTO type_buckets (tenant, type, bucket, n)
SELECT $1, type, seq >> 12, count(*) FROM added GROUP BY type, seq >> 12
ON CONFLICT (tenant, type, bucket) DO UPDATE SET n = type_buckets.n + EXCLUDED.n
"""


@dataclass
class _Pending:
    """An entity write held until the transaction flushes, with its index rows computed when it was made."""

    new: bool
    doc: str
    created: str
    modified: str
    types: list[str]
    attrs: list[tuple[str, str]]
    values: list[tuple[str, float | None, str | None]]
    geos: list[tuple[str, str]]

    @classmethod
    def of(cls, entity: Entity, new: bool) -> _Pending:
        return cls(
            new,
            orjson.dumps(entity).decode(),
            entity["createdAt"],
            entity["modifiedAt"],
            list(dict.fromkeys(entity["type"])),
            attribute_rows(entity),
            value_rows(entity),
            [(attr, orjson.dumps(geometry).decode()) for attr, geometry in geo_rows(entity)],
        )


class PostgresTransaction:
    """Writes of one transaction. Entity writes are held and flushed together, a few statements per flush
    whatever the number of entities; entities a transaction reads are locked (FOR UPDATE) and remembered."""

    def __init__(self, conn: Any, tenant: str):
        self.conn = conn
        self.tenant = tenant
        self._known: dict[str, str | None] = {}  # id -> stored document (JSON text) or None when absent
        self._pending: dict[str, _Pending] = {}

    async def prefetch(self, entity_ids: list[str]) -> None:
        missing = sorted({i for i in entity_ids if i not in self._known and i not in self._pending})
        if not missing:
            return
        rows = await self.conn.fetch(
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

    async def replace(self, entity: Entity) -> None:
        entity_id = entity["id"]
        if entity_id in self._pending:
            new = self._pending[entity_id].new
        else:
            await self.prefetch([entity_id])
            new = self._known[entity_id] is None
        self._pending[entity_id] = _Pending.of(entity, new=new)

    async def flush(self) -> None:
        """Write the held entities: one UPDATE, one INSERT, then their index rows, in bulk."""
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        old = [(i, p) for i, p in pending.items() if not p.new]
        new = [(i, p) for i, p in pending.items() if p.new]
        written: list[tuple[int, _Pending]] = []
        if old:
            kept = [(i, t) for i, p in old for t in p.types]
            rows = await self.conn.fetch(
                REPLACE_SQL,
                self.tenant,
                [i for i, _ in old],
                [p.doc for _, p in old],
                [p.modified for _, p in old],
                [i for i, _ in kept],
                [t for _, t in kept],
            )
            seqs = {r[0]: r[1] for r in rows}
            written += [(seqs[i], p) for i, p in old]
        if new:
            rows = await self.conn.fetch(
                INSERT_SQL,
                self.tenant,
                [i for i, _ in new],
                [p.doc for _, p in new],
                [p.created for _, p in new],
                [p.modified for _, p in new],
            )
            seqs = {r[0]: r[1] for r in rows}
            raced = [i for i, _ in new if i not in seqs]
            if raced:  # created by a concurrent transaction after this one found it absent
                raise AlreadyExists(f"entity {raced[0]} was created concurrently")
            written += [(seqs[i], p) for i, p in new]
        await self._index(written)
        for entity_id, item in pending.items():
            self._known[entity_id] = item.doc

    async def delete(self, entity_id: str) -> bool:
        await self.flush()
        seq = await self.conn.fetchval(
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
        where = PostgresWhere()
        sql = where.build(query)
        rows = await self.conn.fetch(
            f"SELECT e.seq, e.id FROM {where.source} WHERE {sql} FOR UPDATE OF e", *where.params
        )
        seqs = [r[0] for r in rows]
        await self._unindex(seqs)
        await self.conn.execute("DELETE FROM entities WHERE seq = ANY($1::bigint[])", seqs)
        await self.conn.execute(
            "DELETE FROM history WHERE tenant = $1 AND entity_id = ANY($2::text[])", self.tenant, [r[1] for r in rows]
        )
        return len(seqs)

    async def subscriptions(self) -> list[dict[str, Any]]:
        rows = await self.conn.fetch("SELECT doc FROM subscriptions WHERE tenant = $1 ORDER BY seq", self.tenant)
        return [r[0] for r in rows]

    async def add_outbox(self, rows: list[OutboxRow]) -> None:
        # one statement: the rows, and the wake-up that listeners receive when this transaction commits
        await self.conn.execute(
            "WITH added AS (INSERT INTO outbox"
            " (tenant, subscription_id, notification_id, endpoint, payload, created_at, next_at)"
            " SELECT u.tenant, u.sub, u.nid, u.endpoint::jsonb, u.payload, u.created, 0"
            " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])"
            " AS u(tenant, sub, nid, endpoint, payload, created))"
            " SELECT pg_notify('dosi_outbox', '')",
            [r.tenant for r in rows],
            [r.subscription_id for r in rows],
            [r.notification_id for r in rows],
            [orjson.dumps(r.endpoint).decode() for r in rows],
            [r.payload for r in rows],
            [r.created_at for r in rows],
        )

    async def add_history(self, rows: list[HistoryRow], upsert: bool = False) -> None:
        if not rows:
            return
        if upsert:  # one instance per (attribute, datasetId, observedAt)
            timed = [r for r in rows if r.observed_ts is not None]
            await self.conn.execute(
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
            await self.conn.executemany(
                "DELETE FROM history WHERE tenant = $1 AND entity_id = $2 AND attr = $3"
                " AND dataset_id IS NOT DISTINCT FROM $4 AND observed_ts IS NULL",
                [(self.tenant, r.entity_id, r.attr, r.dataset_id) for r in rows if r.observed_ts is None],
            )
        await self.conn.execute(
            f"INSERT INTO history (tenant, {COLUMNS}) SELECT $1, u.entity_id, u.types::jsonb, u.attr, u.instance_id,"
            " u.dataset_id, u.observed_ts, u.created_ts, u.modified_ts, u.deleted_ts, u.num, u.doc::jsonb"
            " FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::float8[], $8::float8[],"
            " $9::float8[], $10::float8[], $11::float8[], $12::text[]) AS u(entity_id, types, attr, instance_id,"
            " dataset_id, observed_ts, created_ts, modified_ts, deleted_ts, num, doc)",
            self.tenant,
            [r.entity_id for r in rows],
            [orjson.dumps(r.types).decode() for r in rows],
            [r.attr for r in rows],
            [r.instance_id for r in rows],
            [r.dataset_id for r in rows],
            [r.observed_ts for r in rows],
            [r.created_ts for r in rows],
            [r.modified_ts for r in rows],
            [r.deleted_ts for r in rows],
            [r.num for r in rows],
            [orjson.dumps(r.doc).decode() for r in rows],
        )

    async def delete_history(
        self,
        entity_id: str,
        attr: str | None = None,
        dataset_id: str | None = None,
        every_dataset: bool = True,
        instance_id: str | None = None,
    ) -> int:
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
        status = await self.conn.execute(sql, *params)
        return int(status.split()[-1])

    async def replace_history_instance(self, row: HistoryRow) -> bool:
        status = await self.conn.execute(
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
            await self.conn.execute(UNINDEX_SQL, seqs)

    async def _index(self, written: list[tuple[int, _Pending]]) -> None:
        if not written:
            return
        types = [(seq, t) for seq, p in written for t in p.types]
        attrs = [(seq, attr, atype) for seq, p in written for attr, atype in p.attrs]
        values = [(seq, attr, num, txt) for seq, p in written for attr, num, txt in p.values]
        geos = [(seq, attr, geojson) for seq, p in written for attr, geojson in p.geos]
        await self.conn.execute(
            INDEX_SQL,
            self.tenant,
            [t for _, t in types],
            [seq for seq, _ in types],
            [a[1] for a in attrs],
            [a[0] for a in attrs],
            [a[2] for a in attrs],
            [v[1] for v in values],
            [v[0] for v in values],
            [v[2] for v in values],
            [v[3] for v in values],
            [g[0] for g in geos],
            [g[1] for g in geos],
            [g[2] for g in geos],
        )
