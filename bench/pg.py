"""Administrative SQL for the PostgreSQL runs (create and drop the run's database, gather statistics)."""

from __future__ import annotations


async def run_sql(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
