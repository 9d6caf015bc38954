"""Administrative SQL for the PostgreSQL runs (create and drop the run's database, gather statistics, count)."""

from __future__ import annotations

from typing import Any


async def run_sql(url: str, sql: str, fetch: bool = False) -> Any:
    """Runs `sql`; with `fetch`, returns the first column of its first row."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        if fetch:
            return await conn.fetchval(sql)
        await conn.execute(sql)
        return None
    finally:
        await conn.close()
