"""The embedded store: SQLite with WAL, JSON1 for q, and R*Tree boxes with exact shapely predicates.

One connection per process. Writes are serialised by an asyncio lock; concurrent writers share one
`BEGIN IMMEDIATE` transaction and its commit (group commit, see `_writing`); several processes share the
file through WAL. Reads between two units of an open group may see writes whose commit is still coming.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from dosi.errors import BadRequestData
from dosi.ngsild import geo
from dosi.ngsild.evaluate import user_regex
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
    only_type_filter,
    single_type,
    type_infos,
    with_stats,
)
from dosi.store.history_sql import ATTR_TYPE, COLUMNS, TIME_COLUMNS, HistoryWhere, aggregates_of
from dosi.store.history_sql import when as _when
from dosi.store.sqlite_aggregate import periodic_rows
from dosi.store.sqlite_ingest import SqliteIngest
from dosi.store.sqlite_security import SqliteSecurity
from dosi.store.sqlite_sql import SqliteHistoryFilters, SqliteWhere
from dosi.store.sqlite_write import BUCKET_BITS, ShapeChanges, SqliteTransaction, WriterLock, json_text

RECORD_STEP = RECORD_DELIVERY.format(p="?", source="")  # one delivery step of a subscription
DEEP_PAGE = 4096  # offsets beyond this seek through type_buckets instead of stepping through rows
FEW_VALUES = 2000  # below this many matches, a q term or attrs is answered from its index first
PRUNE_SLICE = 10_000  # history rows deleted per statement when pruning
PAST_THE_END = 1 << 62  # a seq no entity has: the page after the last one is empty
WAL_WAIT = 10.0  # seconds a process opening a new database waits for the others to switch it to WAL


def _regexp(pattern: str, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    return user_regex(pattern).search(value) is not None


def _geo_match(stored: str, rel: str, query: str, max_d: float | None, min_d: float | None) -> bool:
    return geo.matches(stored, rel, query, max_d, min_d)


def _path_of(url: str) -> str:
    """The file of sqlite:///relative.db, sqlite:////absolute.db or a plain path (kept as it is)."""
    if not url.startswith("sqlite://"):
        return url or "dosi.db"
    path = url.removeprefix("sqlite://")
    return path.removeprefix("/") or "dosi.db"


async def _switch_to_wal(db: sqlite3.Connection) -> None:
    """The worker processes of `dosi serve` open a new database at the same moment. The switch to WAL needs the
    file to itself and SQLite answers "database is locked" at once, without its busy timeout: try again, for
    up to WAL_WAIT seconds."""
    deadline = time.monotonic() + WAL_WAIT
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.02)


class SqliteStore(SqliteSecurity, SqliteIngest):
    def __init__(self, url: str, cache_mb: int = 16, mmap_mb: int = 0):
        self.path = _path_of(url)
        self.cache_mb = cache_mb  # page cache per connection (each worker process has one)
        self.mmap_mb = mmap_mb  # memory-mapped reads; mapped pages count in the process's RSS
        self._db: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()
        self._queued = 0  # writers waiting for the lock
        self._group: asyncio.Future[None] | None = None  # the open group transaction's commit
        self._shape_changes = ShapeChanges()  # what its units changed in the type_attrs counts
        self._writer = WriterLock(self.path)
        self._leases: dict[str, int] = {}  # roles this process leads (try_lead), by lock file descriptor

    @property
    def db(self) -> sqlite3.Connection:
        assert self._db is not None, "store is not open"
        return self._db

    async def open(self) -> None:
        if self._db is not None:
            return
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA busy_timeout=10000")
        await _switch_to_wal(db)
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(f"PRAGMA cache_size=-{int(self.cache_mb) * 1024}")
        db.execute(f"PRAGMA mmap_size={int(self.mmap_mb) * 1024 * 1024}")
        db.create_function("dosi_regexp", 2, _regexp, deterministic=True)
        db.create_function("dosi_geo", 5, _geo_match, deterministic=True)
        self._db = db
        self.migrate()

    def migrate(self) -> list[str]:
        # every worker process of `dosi serve` migrates on start: what is done is read under the write lock, and
        # the pending migrations apply in one transaction, so a second process finds them done or waits
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY)")
            done = {row[0] for row in db.execute("SELECT name FROM schema_migrations")}
            applied = []
            folder = resources.files("dosi.store.sql.sqlite")
            for item in sorted(folder.iterdir(), key=lambda p: p.name):
                if not item.name.endswith(".sql") or item.name in done:
                    continue
                for statement in _statements(item.read_text()):
                    db.execute(statement)
                db.execute("INSERT INTO schema_migrations (name) VALUES (?)", (item.name,))
                applied.append(item.name)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return applied

    async def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        self._writer.close()
        self._release_leases()

    @asynccontextmanager
    async def transaction(self, tenant: str) -> AsyncIterator[SqliteTransaction]:
        async with self._writing():
            unit = SqliteTransaction(self, tenant)
            yield unit
            self._shape_changes.add(tenant, unit.gained, unit.lost)

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[None]:
        """One unit of writes, committed together with the units queued behind it (group commit).

        Each unit runs in a savepoint of the open transaction, so a failing unit undoes only its own writes.
        The last unit of the queue commits, and every unit returns only once that commit is done: nobody is
        answered before their data is on disk, and concurrent writers share one commit instead of paying one each.
        """
        self._queued += 1
        async with self._lock:
            self._queued -= 1
            if self._group is None:
                await self._writer.acquire()
                try:
                    self.db.execute("BEGIN IMMEDIATE")
                except BaseException:
                    self._writer.release()
                    raise
                self._group = asyncio.get_running_loop().create_future()
            group = self._group
            self.db.execute("SAVEPOINT unit")
            try:
                yield
            except BaseException:
                self.db.execute("ROLLBACK TO unit")
                self.db.execute("RELEASE unit")
                raise
            else:
                self.db.execute("RELEASE unit")
            finally:
                if self._queued == 0:
                    # commit once the units that are ready to run have joined (the event loop's next turn)
                    asyncio.get_running_loop().call_soon(self._commit)
        await asyncio.shield(group)

    def _commit(self) -> None:
        if self._group is None or self._lock.locked() or self._queued:
            return  # committed already, or a unit is running: the last unit schedules the commit
        group, self._group = self._group, None
        try:
            self._shape_changes.write(self.db)
            self.db.execute("COMMIT")
        except sqlite3.Error as err:
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")
            group.set_exception(err)
            group.exception()  # retrieved here too: a group whose units all failed has nobody awaiting it
        else:
            group.set_result(None)
        finally:
            self._shape_changes.clear()
            self._writer.release()

    async def get(self, tenant: str, entity_id: str) -> Entity | None:
        row = self.db.execute("SELECT doc FROM entities WHERE tenant = ? AND id = ?", (tenant, entity_id)).fetchone()
        return orjson.loads(row[0]) if row else None

    async def query(self, query: EntityQuery) -> QueryResult:
        try:
            return self._query(query)
        except sqlite3.OperationalError as err:
            # only dosi_regexp raises inside SQL: a client's pattern that does not compile
            if "user-defined function raised exception" in str(err):
                raise BadRequestData("invalid regular expression in the query") from None
            raise

    def _query(self, query: EntityQuery) -> QueryResult:
        builder = SqliteWhere(estimate=self._few_rows)
        where, params = builder.build(query)
        count_where, count_params = where, list(params)
        result = QueryResult()
        if query.limit > 0:
            offset = query.offset
            if offset > DEEP_PAGE and only_type_filter(query):
                # seek: find the seq at the offset on the covering index alone, then read one page from there
                start = self._seek(query.tenant, str(single_type(query)), offset)
                where, offset = where + " AND t.seq >= ?", 0
                builder.params.append(start[0] if start else PAST_THE_END)
            order = builder.order_by(query)
            rows = self.db.execute(
                f"SELECT e.doc FROM {builder.source} WHERE {where}{order} LIMIT ? OFFSET ?",
                [*builder.params, query.limit, offset],
            ).fetchall()
            result.entities = [orjson.loads(r[0]) for r in rows]
        if query.count:
            if only_type_filter(query):
                sql = "SELECT count(*) FROM entity_types WHERE tenant = ? AND type = ?"
                count_params = [query.tenant, single_type(query)]
            else:
                sql = f"SELECT count(*) FROM {builder.source} WHERE {count_where}"
            result.count = int(self.db.execute(sql, count_params).fetchone()[0])
        return result

    def _few_rows(self, rows: str, params: list[Any]) -> bool:
        """True when few index rows (`rows`: a FROM and WHERE) match: then the query starts from them."""
        sql = f"SELECT count(*) FROM (SELECT 1 FROM {rows} LIMIT {FEW_VALUES})"
        return int(self.db.execute(sql, params).fetchone()[0]) < FEW_VALUES

    def _seek(self, tenant: str, type_iri: str, offset: int) -> tuple[int] | None:
        """The (seq,) of the entity at `offset` among a type's entities, found through type_buckets."""
        skipped = 0
        rows = self.db.execute(
            "SELECT bucket, n FROM type_buckets WHERE tenant = ? AND type = ? AND n > 0 ORDER BY bucket",
            (tenant, type_iri),
        )
        for bucket, count in rows:
            if skipped + count > offset:
                row = self.db.execute(
                    "SELECT seq FROM entity_types WHERE tenant = ? AND type = ? AND seq >= ? ORDER BY seq"
                    " LIMIT 1 OFFSET ?",
                    (tenant, type_iri, bucket << BUCKET_BITS, offset - skipped),
                ).fetchone()
                return (int(row[0]),) if row else None
            skipped += count
        return None

    def _fenced(self, column: str, tenant: str, fence: list[Selector] | None, params: list[Any]) -> str:
        """A clause keeping rows whose entity (`column` is its seq) lies inside the fence."""
        if fence is None:
            return ""
        where = SqliteWhere(params)
        inside = where.any_of(tenant, fence)
        return f" AND {column} IN (SELECT e.seq FROM entities e WHERE {inside})"

    async def types(
        self, tenant: str, type_iri: str | None = None, fence: list[Selector] | None = None
    ) -> list[TypeInfo]:
        if fence is not None:
            return self._fenced_types(tenant, type_iri, fence)
        params, one = ([tenant], "") if type_iri is None else ([tenant, type_iri], " AND type = ?")
        counts = self.db.execute(TYPE_COUNTS.format(p="?", one=one), params).fetchall()
        return type_infos(counts, self.db.execute(TYPE_SHAPES.format(p="?", one=one), params))

    def _fenced_types(self, tenant: str, type_iri: str | None, fence: list[Selector]) -> list[TypeInfo]:
        """The types of the entities inside the fence: their index rows, joined entity by entity."""
        params: list[Any] = [tenant]
        where = " WHERE t.tenant = ?"
        if type_iri is not None:
            where += " AND t.type = ?"
            params.append(type_iri)
        where += self._fenced("t.seq", tenant, fence, params)
        infos = {
            row[0]: TypeInfo(row[0], int(row[1]), {})
            for row in self.db.execute(
                f"SELECT t.type, count(*) FROM entity_types t{where} GROUP BY t.type ORDER BY t.type", params
            )
        }
        attr_sql = (
            f"SELECT DISTINCT t.type, a.attr, a.atype FROM entity_types t JOIN entity_attrs a ON a.seq = t.seq{where}"
        )
        for type_name, attr, atype in self.db.execute(attr_sql, params):
            infos[type_name].attributes.setdefault(attr, set()).add(atype)
        return list(infos.values())

    async def type_names(self, tenant: str, fence: list[Selector] | None = None) -> list[str]:
        return self._names(TYPE_NAME_LIST, tenant, fence)

    async def attribute_names(self, tenant: str, fence: list[Selector] | None = None) -> list[str]:
        return self._names(ATTRIBUTE_NAME_LIST, tenant, fence)

    def _names(self, names: NameList, tenant: str, fence: list[Selector] | None) -> list[str]:
        params: list[Any] = [tenant]
        if fence is None:
            sql = names.unfenced.format(p="?")
        else:
            fenced = self._fenced(f"{names.alias}.seq", tenant, fence, params)
            sql = names.fenced(f" WHERE {names.alias}.tenant = ?{fenced}")
        return [row[0] for row in self.db.execute(sql, params)]

    async def attributes(
        self, tenant: str, attr_iri: str | None = None, fence: list[Selector] | None = None
    ) -> list[AttributeInfo]:
        if fence is not None:
            return self._fenced_attributes(tenant, attr_iri, fence)
        params, one = ([tenant], "") if attr_iri is None else ([tenant, attr_iri], " AND attr = ?")
        infos = attribute_infos(self.db.execute(TYPE_SHAPES.format(p="?", one=one), params))
        if attr_iri is not None and attr_iri in infos:
            infos[attr_iri].count = int(self.db.execute(ATTRIBUTE_COUNT.format(p="?"), params).fetchone()[0])
        return list(infos.values())

    def _fenced_attributes(self, tenant: str, attr_iri: str | None, fence: list[Selector]) -> list[AttributeInfo]:
        """The attributes of the entities inside the fence: their index rows, joined entity by entity."""
        params: list[Any] = [tenant]
        where = " WHERE a.tenant = ?"
        if attr_iri is not None:
            where += " AND a.attr = ?"
            params.append(attr_iri)
        where += self._fenced("a.seq", tenant, fence, params)
        infos = {
            row[0]: AttributeInfo(row[0], int(row[1]), set(), set())
            for row in self.db.execute(
                f"SELECT a.attr, count(DISTINCT a.seq) FROM entity_attrs a{where} GROUP BY a.attr ORDER BY a.attr",
                params,
            )
        }
        detail_sql = (
            f"SELECT DISTINCT a.attr, a.atype, t.type FROM entity_attrs a JOIN entity_types t ON t.seq = a.seq{where}"
        )
        for attr, atype, type_name in self.db.execute(detail_sql, params):
            infos[attr].attribute_types.add(atype)
            infos[attr].types.add(type_name)
        return list(infos.values())

    async def tenant_exists(self, tenant: str) -> bool:
        if tenant == "":
            return True
        return self.db.execute("SELECT 1 FROM tenants WHERE tenant = ?", (tenant,)).fetchone() is not None

    async def reset(self) -> None:
        async with self._writing():
            for table in (
                "entities",
                "entity_types",
                "entity_attrs",
                "entity_values",
                "entity_geo",
                "tenants",
                "contexts",
                "subscriptions",
                "subscription_stats",
                "type_buckets",
                "type_attrs",
                "outbox",
                "history",
                "data_models",
                "ingest_sources",
                "ingest_status",
                "ingest_rejections",
            ):
                self.db.execute(f"DELETE FROM {table}")
            self._shape_changes.clear()  # what units before this one in its group counted is gone with the rest

    # -- subscriptions ---------------------------------------------------
    async def insert_subscription(self, tenant: str, doc: dict[str, Any]) -> bool:
        async with self._writing():
            cursor = self.db.execute(
                "INSERT OR IGNORE INTO subscriptions (tenant, id, doc) VALUES (?, ?, ?)",
                (tenant, doc["id"], json_text(doc)),
            )
            if cursor.rowcount == 0:
                return False
            self.db.execute("INSERT OR IGNORE INTO tenants (tenant) VALUES (?)", (tenant,))
        return True

    async def replace_subscription(self, tenant: str, doc: dict[str, Any]) -> bool:
        async with self._writing():
            cursor = self.db.execute(
                "UPDATE subscriptions SET doc = ? WHERE tenant = ? AND id = ?", (json_text(doc), tenant, doc["id"])
            )
        return cursor.rowcount > 0

    async def get_subscription(self, tenant: str, sub_id: str) -> dict[str, Any] | None:
        row = self.db.execute(
            f"SELECT s.doc, {STATS_COLUMNS} FROM subscriptions s {STATS_JOIN} WHERE s.tenant = ? AND s.id = ?",
            (tenant, sub_id),
        ).fetchone()
        return None if row is None else with_stats(orjson.loads(row[0]), row[1:])

    async def list_subscriptions(
        self, tenant: str, limit: int, offset: int, owner: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        where, params = "s.tenant = ?", [tenant]
        if owner is not None:
            where += " AND json_extract(s.doc, '$._owner.id') = ?"
            params.append(owner)
        rows = self.db.execute(
            f"SELECT s.doc, {STATS_COLUMNS} FROM subscriptions s {STATS_JOIN} WHERE {where}"
            " ORDER BY s.seq LIMIT ? OFFSET ?",
            (*params, limit, offset),
        ).fetchall()
        total = self.db.execute(f"SELECT count(*) FROM subscriptions s WHERE {where}", params).fetchone()[0]
        return [with_stats(orjson.loads(r[0]), r[1:]) for r in rows], int(total)

    async def delete_subscription(self, tenant: str, sub_id: str) -> bool:
        async with self._writing():
            self.db.execute("DELETE FROM subscription_stats WHERE tenant = ? AND id = ?", (tenant, sub_id))
            cursor = self.db.execute("DELETE FROM subscriptions WHERE tenant = ? AND id = ?", (tenant, sub_id))
        return cursor.rowcount > 0

    async def record_delivery(self, tenant: str, sub_id: str, step: str, at: str) -> None:
        async with self._writing():
            self.db.execute(RECORD_STEP, delivery_step(tenant, sub_id, step, at))

    async def delivered(self, rows: list[OutboxRow], at: str) -> None:
        async with self._writing():
            gone = [r for r in rows if self.db.execute("DELETE FROM outbox WHERE seq = ?", (r.seq,)).rowcount]
            subscriptions = sorted({(r.tenant, r.subscription_id) for r in gone})
            self.db.executemany(RECORD_STEP, [delivery_step(tenant, sub, "ok", at) for tenant, sub in subscriptions])

    async def claim_outbox(self, now: float, lease: float, limit: int, at: str) -> list[OutboxRow]:
        async with self._writing():
            # walks the due rows only, on (next_at, seq): new rows (next_at 0) in the order they were written, then
            # the retries that are due. Ordered by seq alone, SQLite walked every waiting retry first (16 ms a claim
            # behind 200,000 of them, under the write lock)
            rows = self.db.execute(
                "UPDATE outbox SET claimed_until = ? WHERE seq IN (SELECT seq FROM outbox WHERE next_at <= ?"
                " AND claimed_until <= ? ORDER BY next_at, seq LIMIT ?)"
                " RETURNING seq, tenant, subscription_id, notification_id, endpoint, payload, created_at, attempts",
                (now + lease, now, now, limit),
            ).fetchall()
            counts = Counter((r[1], r[2]) for r in rows)
            self.db.executemany(
                RECORD_STEP,
                [delivery_step(tenant, sub_id, "sent", at, n) for (tenant, sub_id), n in counts.items()],
            )
        rows.sort(key=lambda r: r[0])
        return [OutboxRow(r[1], r[2], r[3], orjson.loads(r[4]), r[5], r[6], int(r[7]), int(r[0])) for r in rows]

    async def finish_outbox(self, seq: int) -> None:
        async with self._writing():
            self.db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))

    async def retry_outbox(self, seq: int, next_at: float, error: str) -> None:
        async with self._writing():
            self.db.execute(
                "UPDATE outbox SET attempts = attempts + 1, next_at = ?, claimed_until = 0, last_error = ?"
                " WHERE seq = ?",
                (next_at, error[:500], seq),
            )

    async def periodic_subscriptions(self) -> list[tuple[str, dict[str, Any]]]:
        rows = self.db.execute(
            "SELECT tenant, doc FROM subscriptions WHERE json_extract(doc, '$.timeInterval') IS NOT NULL"
        ).fetchall()
        return [(r[0], orjson.loads(r[1])) for r in rows]

    async def claim_periodic(self, tenant: str, sub_id: str, now: float, next_at: float) -> bool:
        async with self._writing():
            cursor = self.db.execute(
                "UPDATE subscriptions SET next_at = ? WHERE tenant = ? AND id = ? AND next_at <= ?",
                (next_at, tenant, sub_id, now),
            )
        return cursor.rowcount > 0

    async def outbox_size(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    # -- history ---------------------------------------------------------
    def _history_where(self, params: list[Any]) -> HistoryWhere:
        def mark(value: Any) -> str:
            params.append(value)
            return "?"

        return HistoryWhere(
            mark,
            lambda p: f"EXISTS (SELECT 1 FROM json_each(h.types) t WHERE t.value = {p})",
        )

    async def history_entities(
        self, query: EntityQuery, window: TimeWindow
    ) -> tuple[list[tuple[str, list[str]]], int | None]:
        params: list[Any] = []
        where = self._history_where(params)
        filters = SqliteHistoryFilters(params, lambda alias: where.window(window, alias))
        listed = where.listed(query, window, filters)
        count_params = list(params)  # placeholders are positional: the count uses the ones before ORDER BY
        order = where.order(query, filters, "json_extract(e.doc, '$.type[0]')")
        rows = self.db.execute(
            f"SELECT e.id, json_extract(e.doc, '$.type') {listed}{order} LIMIT ? OFFSET ?",
            [*params, query.limit, query.offset],
        ).fetchall()
        count = None
        if query.count:
            count = int(self.db.execute(f"SELECT count(*) {listed}", count_params).fetchone()[0])
        return [(r[0], orjson.loads(r[1])) for r in rows], count

    async def history(
        self, tenant: str, entity_ids: list[str], attrs: list[str] | None, window: TimeWindow
    ) -> list[HistoryRow]:
        if not entity_ids:
            return []
        params: list[Any] = [tenant, *entity_ids]
        clauses = ["h.tenant = ?", "h.entity_id IN (" + ", ".join("?" * len(entity_ids)) + ")"]
        if attrs:
            clauses.append("h.attr IN (" + ", ".join("?" * len(attrs)) + ")")
            params.extend(attrs)
        clauses.extend(self._history_where(params).window(window))
        column = "h." + TIME_COLUMNS[window.timeproperty]
        sql = f"SELECT {COLUMNS}, row_number() OVER (PARTITION BY h.entity_id, h.attr ORDER BY {column} DESC) AS rn"
        sql += f" FROM history h WHERE {' AND '.join(clauses)}"
        if window.last_n is not None:
            sql = f"SELECT * FROM ({sql}) WHERE rn <= ?"
            params.append(window.last_n)
        rows = self.db.execute(sql + " ORDER BY entity_id, attr", params).fetchall()
        out = [
            HistoryRow(r[0], orjson.loads(r[1]), r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], orjson.loads(r[10]))
            for r in rows
        ]
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
        rows = periodic_rows(
            self.db,
            tenant,
            entity_ids,
            attrs,
            lambda params: self._history_where(params).window(window),
            window,
            start,
            period,
            distinct,
        )
        if rows is None:  # sparse: more periods than one sort costs
            params: list[Any] = []
            value = "json_extract(h.doc, '$.value')" if distinct else None
            sql = self._history_where(params).aggregation(
                tenant, entity_ids, attrs, window, start, period, "CAST({x} AS INTEGER)", value
            )
            rows = self.db.execute(sql, params).fetchall()
        pairs = sorted({(r[0], r[1]) for r in rows})
        kind = ATTR_TYPE.format(
            type_of="json_extract(h.doc, '$.type')",
            t="?",
            e="json_extract(j.value, '$[0]')",
            a="json_extract(j.value, '$[1]')",
        )
        found = self.db.execute(
            f"SELECT json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'), {kind} FROM json_each(?) j",
            [tenant, orjson.dumps(pairs).decode()],
        ).fetchall()
        return aggregates_of(rows, {(r[0], r[1]): r[2] for r in found})

    async def prune_history(self, scope: PruneScope, cutoff: float, spared: list[PruneScope]) -> int:
        params: list[Any] = []
        where = self._history_where(params).prune(scope, cutoff, spared)
        deleted = 0
        while True:  # in slices, so writers wait for one slice at most
            async with self._writing():
                cursor = self.db.execute(
                    f"DELETE FROM history WHERE seq IN (SELECT h.seq FROM history h WHERE {where} LIMIT ?)",
                    [*params, PRUNE_SLICE],
                )
            deleted += cursor.rowcount
            if cursor.rowcount < PRUNE_SLICE:
                return deleted
            await asyncio.sleep(0)

    async def maintain_history(self, now: float) -> None:
        return None  # one indexed table: nothing to prepare

    # -- @context documents ---------------------------------------------
    async def put_context(self, item: StoredContext) -> None:
        async with self._writing():
            self.db.execute(
                "INSERT OR REPLACE INTO contexts (id, url, kind, body, created_at, last_used, hits)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (item.id, item.url, item.kind, json_text(item.body), item.created_at, item.last_used, item.hits),
            )

    async def get_context(self, context_id: str) -> StoredContext | None:
        row = self.db.execute(
            "SELECT id, url, kind, body, created_at, last_used, hits FROM contexts WHERE id = ?", (context_id,)
        ).fetchone()
        return _context(row) if row else None

    async def list_contexts(self) -> list[StoredContext]:
        rows = self.db.execute(
            "SELECT id, url, kind, body, created_at, last_used, hits FROM contexts ORDER BY created_at, id"
        ).fetchall()
        return [_context(r) for r in rows]

    async def delete_context(self, context_id: str) -> bool:
        async with self._writing():
            return self.db.execute("DELETE FROM contexts WHERE id = ?", (context_id,)).rowcount > 0


def _context(row: Any) -> StoredContext:
    return StoredContext(row[0], row[1], row[2], orjson.loads(row[3]), row[4], row[5], int(row[6]))


def _statements(script: str) -> list[str]:
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
