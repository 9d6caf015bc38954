"""The scale-out store: PostgreSQL + PostGIS through asyncpg (JSONB documents, GiST geometry).

API workers are stateless: every process opens its own pool, and row locks
(SELECT ... FOR UPDATE) keep concurrent writes to one entity in order.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import orjson

from dosi.errors import BadRequestData
from dosi.store.base import (
    ATTRIBUTE_COUNT,
    ATTRIBUTE_NAME_LIST,
    RECORD_DELIVERY,
    STATS_COLUMNS,
    STATS_JOIN,
    TYPE_COUNTS,
    TYPE_NAME_LIST,
    TYPE_SHAPES,
    Aggregate,
    AttributeInfo,
    Entity,
    EntityQuery,
    HistoryRow,
    NameList,
    OutboxRow,
    PruneScope,
    QueryResult,
    Selector,
    StoredContext,
    TimeWindow,
    TypeInfo,
    attribute_infos,
    delivery_step,
    indexed_comparison,
    indexed_comparisons,
    only_type_filter,
    single_type,
    type_infos,
    with_stats,
)
from dosi.store.history_sql import ATTR_TYPE, COLUMNS, TIME_COLUMNS, HistoryWhere, aggregates_of
from dosi.store.history_sql import when as _when
from dosi.store.postgres_ingest import PostgresIngest
from dosi.store.postgres_security import PostgresSecurity
from dosi.store.postgres_sql import PostgresHistoryFilters, PostgresWhere, pair_aggregation
from dosi.store.postgres_write import PostgresTransaction, Subscriptions

try:
    import asyncpg
except ImportError:  # pragma: no cover - exercised only without the extra
    asyncpg = None

INSTALL_HINT = "PostgreSQL support needs the extra: pip install 'dosi[postgres]'"
MIGRATION_LOCK = 4_242_001
PAST_THE_END = 1 << 62  # a seq no entity has: the page after the last one is empty
DEEP_PAGE = 4096  # offsets beyond this seek through type_spans and type_buckets instead of stepping through rows
# claim due outbox rows for a lease, and count them as sent for their subscriptions, in one statement. The rows are
# picked once (MATERIALIZED): a re-scanned `IN (subquery)` can lock rows that another worker claimed meanwhile.
CLAIM_SQL = """
WITH picked AS MATERIALIZED (
    SELECT seq FROM outbox WHERE next_at <= $2 AND claimed_until <= $2 ORDER BY seq LIMIT $3 FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE outbox o SET claimed_until = $1 FROM picked WHERE o.seq = picked.seq
    RETURNING o.seq, o.tenant, o.subscription_id, o.notification_id, o.endpoint, o.payload, o.created_at, o.attempts
), counted AS (
    INSERT INTO subscription_stats (tenant, id, times_sent, times_failed, last_notification)
    SELECT c.tenant, c.subscription_id, count(*), 0, $4 FROM claimed c
    WHERE EXISTS (SELECT 1 FROM subscriptions s WHERE s.tenant = c.tenant AND s.id = c.subscription_id)
    GROUP BY c.tenant, c.subscription_id ORDER BY c.tenant, c.subscription_id
    ON CONFLICT (tenant, id) DO UPDATE SET
        times_sent = subscription_stats.times_sent + excluded.times_sent,
        last_notification = excluded.last_notification
)
SELECT * FROM claimed
"""
# finish delivered rows and count each subscription's success: the rows first, then the counters in (tenant, id)
# order, the order the claim takes them in (the other order deadlocked)
DELIVERED_SQL = """
WITH gone AS (DELETE FROM outbox WHERE seq = ANY($1::bigint[]) RETURNING tenant, subscription_id)
INSERT INTO subscription_stats (tenant, id, times_sent, times_failed, last_success, status)
SELECT g.tenant, g.subscription_id, 0, 0, $2, 'ok' FROM gone g
WHERE EXISTS (SELECT 1 FROM subscriptions s WHERE s.tenant = g.tenant AND s.id = g.subscription_id)
GROUP BY g.tenant, g.subscription_id ORDER BY g.tenant, g.subscription_id
ON CONFLICT (tenant, id) DO UPDATE SET last_success = excluded.last_success, status = excluded.status
"""
AGGREGATION_WORK_MEM = "128MB"  # per aggregation query, instead of the server's (often 4 MB) default
FEW_VALUES = 2000  # below this many matches, a q term is answered from the value index first


async def _noop_reset(conn: Any) -> None:
    return None


async def _init_connection(conn: Any) -> None:
    await conn.set_type_codec(
        "jsonb", encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads, schema="pg_catalog"
    )
    await conn.execute("SET statement_timeout = '30s'")
    # asyncpg looks array types up on their first use by each connection (15 ms here): once now, not in a request
    arrays = "SELECT 1 FROM unnest($1::bigint[], $2::text[], $3::float8[], $4::bool[]) LIMIT 0"
    await conn.fetchval(arrays, [], [], [], [])


# Write transactions have connections of their own, planned generically: a write statement changes only in its
# arrays, and planning it anew for each call's values (PostgreSQL's custom plans) cost more than running it (S1: +35%
# with generic plans). Queries keep custom plans: theirs depend on the values. A transaction's own query (delete by
# query) asks for them with SET LOCAL.
WRITER_SETTINGS = {"plan_cache_mode": "force_generic_plan"}


async def _roll_back(conn: Any) -> None:
    """End a failed transaction. If this cannot (a cancelled query, a broken socket), the pool's release rolls back
    or closes the connection: none is handed out in the middle of a transaction."""
    if conn.is_in_transaction():
        with contextlib.suppress(Exception):
            await conn.execute("ROLLBACK")


def _translate(err: Exception) -> Exception:
    """A user's bad regex reaches PostgreSQL as an invalid expression: that is a 400."""
    if asyncpg is not None and isinstance(err, asyncpg.exceptions.InvalidRegularExpressionError):
        return BadRequestData(f"invalid regular expression: {err}")
    return err


class PostgresStore(PostgresSecurity, PostgresIngest):
    def __init__(self, url: str):
        if asyncpg is None:
            raise RuntimeError(INSTALL_HINT)
        self.url = url
        self._pool: Any = None
        self._writers: Any = None  # connections of write transactions
        self._leases: dict[str, Any] = {}  # roles this process leads (try_lead): the connection holding each lock
        self._subscriptions: dict[str, Subscriptions] = {}  # each tenant's, for writes (checked as they write)

    @property
    def pool(self) -> Any:
        assert self._pool is not None, "store is not open"
        return self._pool

    @property
    def writers(self) -> Any:
        assert self._writers is not None, "store is not open"
        return self._writers

    async def open(self) -> None:
        if self._pool is not None:
            return
        self._pool = await asyncpg.create_pool(
            self.url, min_size=1, max_size=10, init=_init_connection, reset=_noop_reset
        )
        self._writers = await asyncpg.create_pool(
            self.url, min_size=1, max_size=10, init=_init_connection, reset=_noop_reset, server_settings=WRITER_SETTINGS
        )
        await self.migrate()

    async def migrate(self) -> list[str]:
        applied: list[str] = []
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            await conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY)")
            done = {r[0] for r in await conn.fetch("SELECT name FROM schema_migrations")}
            folder = resources.files("dosi.store.sql.postgres")
            for item in sorted(folder.iterdir(), key=lambda p: p.name):
                if not item.name.endswith(".sql") or item.name in done:
                    continue
                await conn.execute(item.read_text())
                await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", item.name)
                applied.append(item.name)
        return applied

    async def close(self) -> None:
        await self._release_leases()
        for pool in (self._pool, self._writers):
            if pool is not None:
                await pool.close()
        self._pool = self._writers = None

    @asynccontextmanager
    async def transaction(self, tenant: str) -> AsyncIterator[PostgresTransaction]:
        async with self.writers.acquire() as conn:
            tx = PostgresTransaction(conn, tenant, self._subscriptions)
            committed = False
            try:
                yield tx
                # whoever adds outbox rows flushes them first; a flush sent alone that failed holds its writes again
                if not await tx.flush(last=True) and (tx.dropped_outbox or tx.held):
                    raise RuntimeError("the write was made for subscriptions that changed before it was written")
                if tx.begun:
                    await conn.execute("COMMIT")
                committed = True
            except Exception as err:
                raise _translate(err) from None
            finally:
                if not committed:
                    await _roll_back(conn)

    async def get(self, tenant: str, entity_id: str) -> Entity | None:
        doc = await self.pool.fetchval("SELECT doc FROM entities WHERE tenant = $1 AND id = $2", tenant, entity_id)
        return doc

    async def query(self, query: EntityQuery) -> QueryResult:
        result = QueryResult()
        try:
            selective = await self._selective(query)
            few_have_attrs = await self._few_have(query.tenant, query.attrs)
            where = PostgresWhere(selective=selective, few_have_attrs=few_have_attrs)
            sql = where.build(query)
            if query.limit > 0:
                skip = query.offset
                if skip > DEEP_PAGE and only_type_filter(query):
                    # seek: the seq at the offset, found through the type counts, in the same statement as the page
                    tenant, type_iri, at = where.p(query.tenant), where.p(single_type(query)), where.p(skip)
                    # a sub-select, run once when the statement runs: a bare call of the function with known
                    # arguments is also run by the planner, to estimate how many rows follow the seq it returns
                    seek = f"(SELECT type_seq_at({tenant}, {type_iri}, {at}))"
                    sql = f"{sql} AND t.seq >= coalesce({seek}, {where.p(PAST_THE_END)})"
                    skip = 0
                order = where.order_by(query)
                limit = where.p(query.limit)
                offset = where.p(skip)
                rows = await self.pool.fetch(where.page(sql, order, limit, offset), *where.params)
                result.entities = [r[0] for r in rows]
            if query.count:
                if only_type_filter(query):
                    total = await self.pool.fetchval(
                        "SELECT coalesce(sum(n), 0) FROM type_spans WHERE tenant = $1 AND type = $2",
                        query.tenant,
                        single_type(query),
                    )
                else:
                    count_where = PostgresWhere(selective=selective, few_have_attrs=few_have_attrs)
                    count_sql = count_where.build(query)
                    total = await self.pool.fetchval(count_where.count(count_sql), *count_where.params)
                result.count = int(total)
        except Exception as err:
            raise _translate(err) from None
        return result

    async def _selective(self, query: EntityQuery) -> set[int]:
        """The q comparisons few entities meet (ids of their nodes): those start from the value index."""
        chosen = set()
        for node in indexed_comparisons(query.q):
            compared = indexed_comparison(node)
            assert compared is not None
            column, operator, values = compared
            if column == "txt":
                column = 'txt COLLATE "C"'
            marks = [f"${n}" for n in range(3, 3 + len(values))]
            condition = {
                "BETWEEN": f"v.{column} BETWEEN {marks[0]} AND {marks[-1]}",
                "IN": f"v.{column} = ANY($3)",
            }.get(operator, f"v.{column} {operator} {marks[0]}")
            args = [values] if operator == "IN" else values
            rows = f"entity_values v WHERE v.tenant = $1 AND v.attr = $2 AND {condition}"
            if await self._few_rows(rows, query.tenant, node.path.attr, *args):
                chosen.add(id(node))
        return chosen

    async def _few_have(self, tenant: str, attrs: list[str] | None) -> bool:
        """True when few entities have any of the attributes (counted on their index, up to FEW_VALUES)."""
        if not attrs:
            return False
        return await self._few_rows("entity_attrs WHERE tenant = $1 AND attr = ANY($2::text[])", tenant, attrs)

    async def _few_rows(self, rows: str, *args: Any) -> bool:
        """True when fewer than FEW_VALUES index rows (`rows`: a FROM and WHERE) match."""
        few = await self.pool.fetchval(f"SELECT count(*) FROM (SELECT 1 FROM {rows} LIMIT {FEW_VALUES}) AS x", *args)
        return bool(few < FEW_VALUES)

    @staticmethod
    def _where(
        column: str, key: str, tenant: str, value: str | None, fence: list[Selector] | None
    ) -> tuple[str, list[Any]]:
        """WHERE for the discovery tables: the tenant, one type or attribute, and the fence."""
        table = column.split(".")[0]
        builder = PostgresWhere()
        where = f" WHERE {table}.tenant = {builder.p(tenant)}"
        if value is not None:
            where += f" AND {key} = {builder.p(value)}"
        if fence is not None:
            where += f" AND {column} IN (SELECT e.seq FROM entities e WHERE {builder.any_of(tenant, fence)})"
        return where, builder.params

    async def types(
        self, tenant: str, type_iri: str | None = None, fence: list[Selector] | None = None
    ) -> list[TypeInfo]:
        if fence is None:  # the whole tenant: from the counters
            params, one = ([tenant], "") if type_iri is None else ([tenant, type_iri], " AND type = $2")
            counts = await self.pool.fetch(TYPE_COUNTS.format(p="$", one=one), *params)
            return type_infos(counts, await self.pool.fetch(TYPE_SHAPES.format(p="$", one=one), *params))
        where, params = self._where("t.seq", "t.type", tenant, type_iri, fence)
        rows = await self.pool.fetch(
            f"SELECT t.type, count(*) FROM entity_types t{where} GROUP BY t.type ORDER BY t.type", *params
        )
        infos = {r[0]: TypeInfo(r[0], int(r[1]), {}) for r in rows}
        detail = await self.pool.fetch(
            f"SELECT DISTINCT t.type, a.attr, a.atype FROM entity_types t JOIN entity_attrs a ON a.seq = t.seq{where}",
            *params,
        )
        for type_name, attr, atype in detail:
            infos[type_name].attributes.setdefault(attr, set()).add(atype)
        return list(infos.values())

    async def type_names(self, tenant: str, fence: list[Selector] | None = None) -> list[str]:
        return await self._names(TYPE_NAME_LIST, tenant, fence)

    async def attribute_names(self, tenant: str, fence: list[Selector] | None = None) -> list[str]:
        return await self._names(ATTRIBUTE_NAME_LIST, tenant, fence)

    async def _names(self, names: NameList, tenant: str, fence: list[Selector] | None) -> list[str]:
        if fence is None:
            rows = await self.pool.fetch(names.unfenced.format(p="$"), tenant)
        else:
            where, params = self._where(f"{names.alias}.seq", names.column, tenant, None, fence)
            rows = await self.pool.fetch(names.fenced(where), *params)
        return [r[0] for r in rows]

    async def attributes(
        self, tenant: str, attr_iri: str | None = None, fence: list[Selector] | None = None
    ) -> list[AttributeInfo]:
        if fence is None:  # the whole tenant: from the counters, and one attribute's entities counted
            params, one = ([tenant], "") if attr_iri is None else ([tenant, attr_iri], " AND attr = $2")
            found = attribute_infos(await self.pool.fetch(TYPE_SHAPES.format(p="$", one=one), *params))
            if attr_iri is not None and attr_iri in found:
                found[attr_iri].count = int(await self.pool.fetchval(ATTRIBUTE_COUNT.format(p="$"), *params))
            return list(found.values())
        where, params = self._where("a.seq", "a.attr", tenant, attr_iri, fence)
        rows = await self.pool.fetch(
            f"SELECT a.attr, count(DISTINCT a.seq) FROM entity_attrs a{where} GROUP BY a.attr ORDER BY a.attr",
            *params,
        )
        infos = {r[0]: AttributeInfo(r[0], int(r[1]), set(), set()) for r in rows}
        detail = await self.pool.fetch(
            f"SELECT DISTINCT a.attr, a.atype, t.type FROM entity_attrs a JOIN entity_types t ON t.seq = a.seq{where}",
            *params,
        )
        for attr, atype, type_name in detail:
            infos[attr].attribute_types.add(atype)
            infos[attr].types.add(type_name)
        return list(infos.values())

    async def tenant_exists(self, tenant: str) -> bool:
        if tenant == "":
            return True
        return bool(await self.pool.fetchval("SELECT EXISTS (SELECT 1 FROM tenants WHERE tenant = $1)", tenant))

    async def reset(self) -> None:
        self._subscriptions.clear()
        await self.pool.execute(
            "TRUNCATE entities, entity_types, entity_attrs, entity_values, entity_geo, tenants, contexts,"
            " subscriptions, subscription_stats, type_buckets, type_spans, type_attrs, outbox, history, data_models,"
            " ingest_sources, ingest_status, ingest_rejections, subscription_versions RESTART IDENTITY"
        )

    async def insert_subscription(self, tenant: str, doc: dict[str, Any]) -> bool:
        async with self.pool.acquire() as conn, conn.transaction():
            inserted = await conn.fetchval(
                "INSERT INTO subscriptions (tenant, id, doc) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING seq",
                tenant,
                doc["id"],
                doc,
            )
            if inserted is None:
                return False
            await conn.execute("INSERT INTO tenants (tenant) VALUES ($1) ON CONFLICT DO NOTHING", tenant)
            return True

    async def replace_subscription(self, tenant: str, doc: dict[str, Any]) -> bool:
        status = await self.pool.execute(
            "UPDATE subscriptions SET doc = $3 WHERE tenant = $1 AND id = $2", tenant, doc["id"], doc
        )
        return bool(status.endswith(" 1"))

    async def get_subscription(self, tenant: str, sub_id: str) -> dict[str, Any] | None:
        row = await self.pool.fetchrow(
            f"SELECT s.doc, {STATS_COLUMNS} FROM subscriptions s {STATS_JOIN} WHERE s.tenant = $1 AND s.id = $2",
            tenant,
            sub_id,
        )
        return None if row is None else with_stats(row[0], tuple(row)[1:])

    async def list_subscriptions(
        self, tenant: str, limit: int, offset: int, owner: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        where = "s.tenant = $1 AND ($2::text IS NULL OR s.doc -> '_owner' ->> 'id' = $2)"
        rows = await self.pool.fetch(
            f"SELECT s.doc, {STATS_COLUMNS} FROM subscriptions s {STATS_JOIN} WHERE {where}"
            " ORDER BY s.seq LIMIT $3 OFFSET $4",
            tenant,
            owner,
            limit,
            offset,
        )
        total = await self.pool.fetchval(f"SELECT count(*) FROM subscriptions s WHERE {where}", tenant, owner)
        return [with_stats(r[0], tuple(r)[1:]) for r in rows], int(total)

    async def delete_subscription(self, tenant: str, sub_id: str) -> bool:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM subscription_stats WHERE tenant = $1 AND id = $2", tenant, sub_id)
            status = await conn.execute("DELETE FROM subscriptions WHERE tenant = $1 AND id = $2", tenant, sub_id)
        return bool(status.endswith(" 1"))

    async def record_delivery(self, tenant: str, sub_id: str, step: str, at: str) -> None:
        await self.pool.execute(RECORD_DELIVERY.format(p="$", source=""), *delivery_step(tenant, sub_id, step, at))

    async def delivered(self, rows: list[OutboxRow], at: str) -> None:
        await self.pool.execute(DELIVERED_SQL, [r.seq for r in rows], at)

    async def claim_outbox(self, now: float, lease: float, limit: int, at: str) -> list[OutboxRow]:
        rows = await self.pool.fetch(CLAIM_SQL, now + lease, now, limit, at)
        ordered = sorted(rows, key=lambda r: r[0])
        return [OutboxRow(r[1], r[2], r[3], r[4], r[5], r[6], int(r[7]), int(r[0])) for r in ordered]

    async def finish_outbox(self, seq: int) -> None:
        await self.pool.execute("DELETE FROM outbox WHERE seq = $1", seq)

    async def retry_outbox(self, seq: int, next_at: float, error: str) -> None:
        await self.pool.execute(
            "UPDATE outbox SET attempts = attempts + 1, next_at = $2, claimed_until = 0, last_error = $3"
            " WHERE seq = $1",
            seq,
            next_at,
            error[:500],
        )

    async def periodic_subscriptions(self) -> list[tuple[str, dict[str, Any]]]:
        rows = await self.pool.fetch("SELECT tenant, doc FROM subscriptions WHERE doc ? 'timeInterval'")
        return [(r[0], r[1]) for r in rows]

    async def claim_periodic(self, tenant: str, sub_id: str, now: float, next_at: float) -> bool:
        status = await self.pool.execute(
            "UPDATE subscriptions SET next_at = $3 WHERE tenant = $1 AND id = $2 AND next_at <= $4",
            tenant,
            sub_id,
            next_at,
            now,
        )
        return bool(status.endswith(" 1"))

    async def outbox_size(self) -> int:
        return int(await self.pool.fetchval("SELECT count(*) FROM outbox"))

    async def listen(self, callback: Any) -> Any:
        """Call `callback()` whenever another process commits outbox rows; returns the listening connection."""
        conn = await asyncpg.connect(self.url)
        await conn.add_listener("dosi_outbox", lambda *_: callback())
        return conn

    @staticmethod
    def _history_where(params: list[Any]) -> HistoryWhere:
        def mark(value: Any) -> str:
            params.append(value)
            return f"${len(params)}"

        return HistoryWhere(mark, lambda p: f"h.types ? {p}")

    async def history_entities(
        self, query: EntityQuery, window: TimeWindow
    ) -> tuple[list[tuple[str, list[str]]], int | None]:
        params: list[Any] = []
        where = self._history_where(params)
        filters = PostgresHistoryFilters(params, lambda alias: where.window(window, alias))
        listed = where.listed(query, window, filters)
        count_params = list(params)  # the count uses $1 .. $n of the listing only
        order = where.order(query, filters, "(e.doc #>> '{type,0}')")
        params.extend([query.limit, query.offset])
        rows = await self.pool.fetch(
            f"SELECT e.id, e.doc -> 'type' {listed}{order} LIMIT ${len(params) - 1} OFFSET ${len(params)}",
            *params,
        )
        count = None
        if query.count:
            count = int(await self.pool.fetchval(f"SELECT count(*) {listed}", *count_params))
        return [(r[0], r[1]) for r in rows], count

    async def history(
        self, tenant: str, entity_ids: list[str], attrs: list[str] | None, window: TimeWindow
    ) -> list[HistoryRow]:
        if not entity_ids:
            return []
        params: list[Any] = [tenant, entity_ids]
        clauses = ["h.tenant = $1", "h.entity_id = ANY($2::text[])"]
        if attrs:
            params.append(attrs)
            clauses.append(f"h.attr = ANY(${len(params)}::text[])")
        clauses.extend(self._history_where(params).window(window))
        column = "h." + TIME_COLUMNS[window.timeproperty]
        sql = f"SELECT {COLUMNS}, row_number() OVER (PARTITION BY h.entity_id, h.attr ORDER BY {column} DESC) AS rn"
        sql += f" FROM history h WHERE {' AND '.join(clauses)}"
        if window.last_n is not None:
            params.append(window.last_n)
            sql = f"SELECT * FROM ({sql}) AS ranked WHERE rn <= ${len(params)}"
        rows = await self.pool.fetch(sql, *params)
        out = [HistoryRow(*tuple(r)[:11]) for r in rows]
        key = TIME_COLUMNS[window.timeproperty]
        out.sort(key=lambda row: (row.entity_id, row.attr, _when(row, key)))
        return out

    async def aggregate(
        self,
        tenant: str,
        entity_ids: list[str],
        attrs: list[str] | None,
        window: TimeWindow,
        start: float | None,
        period: float,
        distinct: bool,
    ) -> list[Aggregate]:
        if not entity_ids:
            return []
        params: list[Any] = []
        sql = pair_aggregation(self._history_where(params), tenant, entity_ids, attrs, window, start, period, distinct)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(f"SET LOCAL work_mem = '{AGGREGATION_WORK_MEM}'")  # sort every period in memory
            rows = await conn.fetch(sql, *params)
        pairs = sorted({(r[0], r[1]) for r in rows})
        kind = ATTR_TYPE.format(type_of="h.doc ->> 'type'", t="$1", e="u.e", a="u.a")
        found = await self.pool.fetch(
            f"SELECT u.e, u.a, {kind} FROM unnest($2::text[], $3::text[]) AS u(e, a)",
            tenant,
            [p[0] for p in pairs],
            [p[1] for p in pairs],
        )
        return aggregates_of([tuple(r) for r in rows], {(r[0], r[1]): r[2] for r in found})

    async def prune_history(self, scope: PruneScope, cutoff: float, spared: list[PruneScope]) -> int:
        deleted = 0
        async with self.pool.acquire() as conn:
            if scope == PruneScope() and not spared:  # whole months first: dropping a table costs nothing
                for name, end in await self._history_months(conn):
                    if end <= cutoff:
                        async with conn.transaction():
                            deleted += await conn.fetchval(f'SELECT count(*) FROM "{name}"')
                            await conn.execute(f'DROP TABLE "{name}"')
            params: list[Any] = []
            where = self._history_where(params).prune(scope, cutoff, spared)
            status = await conn.execute(f"DELETE FROM history h WHERE {where}", *params)
        return deleted + int(status.split()[-1])

    @staticmethod
    async def _history_months(conn: Any) -> list[tuple[str, float]]:
        """The monthly partitions of history, each with the epoch second it ends at."""
        rows = await conn.fetch(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'history'::regclass AND c.relname ~ '^history_[0-9]{6}$'"
        )
        months = []
        for (name,) in rows:
            year, month = int(name[8:12]), int(name[12:14])
            end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
            months.append((name, end.timestamp()))
        return sorted(months, key=lambda item: item[1])

    async def maintain_history(self, now: float) -> None:
        # this month's partition and the next two, so that rows rarely wait in the default partition
        for days_ahead in (0, 20, 40, 60):
            await self.pool.execute("SELECT dosi_history_partition($1)", now + days_ahead * 86400.0)

    async def put_context(self, item: StoredContext) -> None:
        await self.pool.execute(
            "INSERT INTO contexts (id, url, kind, body, created_at, last_used, hits)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " ON CONFLICT (id) DO UPDATE SET url = EXCLUDED.url, kind = EXCLUDED.kind, body = EXCLUDED.body,"
            " last_used = EXCLUDED.last_used, hits = EXCLUDED.hits",
            item.id,
            item.url,
            item.kind,
            item.body,
            item.created_at,
            item.last_used,
            item.hits,
        )

    async def get_context(self, context_id: str) -> StoredContext | None:
        row = await self.pool.fetchrow(
            "SELECT id, url, kind, body, created_at, last_used, hits FROM contexts WHERE id = $1", context_id
        )
        return StoredContext(*row) if row else None

    async def list_contexts(self) -> list[StoredContext]:
        rows = await self.pool.fetch(
            "SELECT id, url, kind, body, created_at, last_used, hits FROM contexts ORDER BY created_at, id"
        )
        return [StoredContext(*r) for r in rows]

    async def delete_context(self, context_id: str) -> bool:
        status = await self.pool.execute("DELETE FROM contexts WHERE id = $1", context_id)
        return bool(status.endswith(" 1"))
