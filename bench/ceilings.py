"""The machine's raw ceilings, measured in the same run as the scenarios they bound."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson

from bench import datagen, paced, server, wrk

# a JSONB/JSON document table with the indexes an entity store needs, without Dosi
PG_TABLE = """
DROP TABLE IF EXISTS bench_raw;
CREATE TABLE bench_raw (id text PRIMARY KEY, type text NOT NULL, doc jsonb NOT NULL, geom geometry(Geometry, 4326));
CREATE INDEX bench_raw_type ON bench_raw (type, id);
CREATE INDEX bench_raw_geom ON bench_raw USING gist (geom);
"""


def http(workers: int, seconds: float, paced_rate: int) -> dict[str, float]:
    """A minimal ASGI app on uvicorn with the same workers: GET and POST requests/s under wrk c16 (what S1-S3
    are compared with); the floors of the latency scenarios: GET p50 at c4 (S4, S5) and POST p50 paced as S8
    sends its updates; the memory of the app's processes (S10) and the start of a one-worker app (S11)."""
    body = orjson.dumps(datagen.entity(1, random.Random(1)))
    with tempfile.NamedTemporaryFile("wb", suffix=".json", delete=False) as f:
        f.write(body)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as listing:
        listing.write(f.name + "\n")
    gets = {"BENCH_PATHS": _paths_file(["/get"])}
    try:
        with server.ceiling_app(workers) as app:
            get = wrk.run(app.base + "/get", "get_paths.lua", seconds, env=gets)
            bodies = {"BENCH_BODIES": listing.name, "BENCH_PATH": "/post"}
            post = wrk.run(app.base + "/post", "post_bodies.lua", seconds, env=bodies)
            get_c4 = wrk.run(app.base + "/get", "get_paths.lua", seconds, connections=4, env=gets)
            posted = asyncio.run(paced.post_paced(lambda n: (app.base + "/post", body), paced_rate,
                                                  int(paced_rate * seconds)))  # fmt: skip
            memory = app.memory_mb("RssAnon")
        with server.ceiling_app(1) as single:
            start = single.started_in
    finally:
        os.unlink(f.name)
        os.unlink(listing.name)
        os.unlink(gets["BENCH_PATHS"])
    return {
        "http_get": get.rate,
        "http_post": post.rate,
        "http_get_c4_p50_ms": get_c4.p50_ms,
        "http_post_paced_p50_ms": statistics.median(posted),
        "app_rss_mb": memory,
        "app_start_s": start,
    }


def _paths_file(paths: list[str]) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(paths) + "\n")
    return f.name


def sqlite_raw(rows: int) -> dict[str, float]:
    """Rows/s committed one per transaction, rows/s in 1,000-row transactions, and PK lookups/s."""
    folder = tempfile.mkdtemp()
    db = sqlite3.connect(os.path.join(folder, "raw.db"), isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "cache_size=-65536", "mmap_size=268435456"):
        db.execute(f"PRAGMA {pragma}")
    db.execute("CREATE TABLE raw (id TEXT PRIMARY KEY, type TEXT NOT NULL, doc TEXT NOT NULL)")
    docs = [(e["id"], e["type"], orjson.dumps(e).decode()) for e in datagen.city(rows, seed=11)]
    single = docs[: max(1, rows // 10)]
    began = time.perf_counter()
    for row in single:
        db.execute("INSERT OR REPLACE INTO raw VALUES (?, ?, ?)", row)
    one_per_commit = len(single) / (time.perf_counter() - began)
    began = time.perf_counter()
    for start in range(0, len(docs), 1000):
        db.execute("BEGIN")
        db.executemany("INSERT OR REPLACE INTO raw VALUES (?, ?, ?)", docs[start : start + 1000])
        db.execute("COMMIT")
    batched = len(docs) / (time.perf_counter() - began)
    ids = [d[0] for d in random.Random(3).choices(docs, k=min(20000, rows * 5))]
    began = time.perf_counter()
    for entity_id in ids:
        db.execute("SELECT doc FROM raw WHERE id = ?", (entity_id,)).fetchone()
    lookups = len(ids) / (time.perf_counter() - began)
    db.close()
    return {"db_commit_1row": one_per_commit, "db_batch_rows": batched, "db_pk_lookup": lookups}


def postgres_raw(url: str, rows: int) -> dict[str, float]:
    return asyncio.run(_postgres_raw(url, rows))


async def _postgres_raw(url: str, rows: int) -> dict[str, float]:
    import asyncpg

    async def noop(conn: Any) -> None:
        return None

    pool = await asyncpg.create_pool(url, min_size=16, max_size=16, reset=noop)
    async with pool.acquire() as conn:
        await conn.execute(PG_TABLE)
    docs = list(datagen.city(rows, seed=11))
    records = [(e["id"], e["type"], orjson.dumps(e).decode(), _wkt(e)) for e in docs]

    # one row per transaction, 16 concurrent clients (what S1 must beat by grouping commits)
    single = records[: max(16, rows // 10)]
    queue = list(single)

    async def upserter() -> None:
        async with pool.acquire() as conn:
            while queue:
                entity_id, kind, doc, geom = queue.pop()
                await conn.execute(
                    "INSERT INTO bench_raw VALUES ($1, $2, $3::jsonb, ST_GeomFromText($4, 4326))"
                    " ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc, geom = EXCLUDED.geom",
                    entity_id,
                    kind,
                    doc,
                    geom,
                )

    began = time.perf_counter()
    await asyncio.gather(*(upserter() for _ in range(16)))
    one_per_commit = len(single) / (time.perf_counter() - began)

    # COPY of every row into the indexed table
    async with pool.acquire() as conn:
        await conn.execute("TRUNCATE bench_raw")
        await conn.execute("CREATE TEMP TABLE IF NOT EXISTS bench_in (id text, type text, doc text, geom text)")
        began = time.perf_counter()
        for start in range(0, len(records), 1000):
            async with conn.transaction():
                await conn.execute("TRUNCATE bench_in")
                await conn.copy_records_to_table("bench_in", records=records[start : start + 1000])
                await conn.execute(
                    "INSERT INTO bench_raw SELECT id, type, doc::jsonb, ST_GeomFromText(geom, 4326) FROM bench_in"
                    " ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc, geom = EXCLUDED.geom"
                )
        copied = len(records) / (time.perf_counter() - began)

    ids = [r[0] for r in random.Random(3).choices(records, k=min(20000, rows * 5))]

    async def reader(share: list[str]) -> None:
        async with pool.acquire() as conn:
            for entity_id in share:
                await conn.fetchval("SELECT doc FROM bench_raw WHERE id = $1", entity_id)

    began = time.perf_counter()
    await asyncio.gather(*(reader(ids[i::16]) for i in range(16)))
    lookups = len(ids) / (time.perf_counter() - began)
    async with pool.acquire() as conn:
        await conn.execute("DROP TABLE bench_raw")
    await pool.close()
    return {"db_commit_1row": one_per_commit, "db_batch_rows": copied, "db_pk_lookup": lookups}


def _wkt(entity: dict[str, Any]) -> str:
    lon, lat = entity["location"]["value"]["coordinates"]
    return f"POINT({lon} {lat})"


def hourly_aggregate(backend: str, url: str, stations: int, per_station: int) -> float:
    """S7's floor: the same hourly avg/min/max over the same readings, asked of a plain (station, time, value)
    table with its primary key, without Dosi; seconds, median of 5."""
    rows = [
        (station, datetime.fromisoformat(reading["observedAt"]), float(reading["value"]))
        for station in range(stations)
        for reading in datagen.readings(per_station, seed=station)
    ]
    if backend == "postgres":
        return asyncio.run(_postgres_hourly(url, rows))
    return _sqlite_hourly(rows)


def _sqlite_hourly(rows: list[tuple[int, datetime, float]]) -> float:
    folder = tempfile.mkdtemp()
    db = sqlite3.connect(os.path.join(folder, "raw-history.db"), isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE raw_history (station INTEGER, t INTEGER, value REAL, PRIMARY KEY (station, t))"
                   " WITHOUT ROWID")  # fmt: skip
        db.execute("BEGIN")
        db.executemany("INSERT INTO raw_history VALUES (?, ?, ?)", ((s, int(t.timestamp()), v) for s, t, v in rows))
        db.execute("COMMIT")
        sql = ("SELECT station, t / 3600 AS hour, avg(value), min(value), max(value) FROM raw_history"
               " GROUP BY station, hour")  # fmt: skip
        return _median_seconds(lambda: db.execute(sql).fetchall())
    finally:
        db.close()
        shutil.rmtree(folder, ignore_errors=True)


async def _postgres_hourly(url: str, rows: list[tuple[int, datetime, float]]) -> float:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE bench_raw_history (station int, t timestamptz, value float8,"
                           " PRIMARY KEY (station, t))")  # fmt: skip
        await conn.copy_records_to_table("bench_raw_history", records=rows)
        await conn.execute("VACUUM ANALYZE bench_raw_history")
        sql = ("SELECT station, date_trunc('hour', t) AS hour, avg(value), min(value), max(value)"
               " FROM bench_raw_history GROUP BY station, hour")  # fmt: skip
        times = []
        for _ in range(5):
            began = time.perf_counter()
            await conn.fetch(sql)
            times.append(time.perf_counter() - began)
        await conn.execute("DROP TABLE bench_raw_history")
        return statistics.median(times)
    finally:
        await conn.close()


def _median_seconds(query: Callable[[], object], repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        query()
        times.append(time.perf_counter() - began)
    return statistics.median(times)
