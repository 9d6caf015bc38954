"""python -m bench all|S1..S11 --backend sqlite|postgres [--size smoke|full]; python -m bench report."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench import ceilings, machine, report, scenarios, server
from bench.pg import run_sql

RESULTS = Path(__file__).parent / "results"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("what", nargs="+", help="all, report, or scenario codes such as S1 S7")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--size", choices=list(scenarios.SIZES), default="full")
    parser.add_argument("--workers", type=int, default=2, help="dosi serve --workers (default 2, one per core)")
    parser.add_argument("--pg-admin-url", default=os.environ.get("DOSI_BENCH_PG_URL", PG_ADMIN),
                        help="a PostgreSQL URL allowed to create the run's database")  # fmt: skip
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the JSON record of the run")
    args = parser.parse_args(argv)
    if args.what == ["report"]:
        report.write(args.out)
        return 0
    wanted = {w.upper() for w in args.what}
    return measure(args.backend, scenarios.SIZES[args.size], args.workers, wanted, args.pg_admin_url, args.out)


def measure(backend: str, size: scenarios.Size, workers: int, wanted: set[str], admin: str, out: Path) -> int:
    every = "ALL" in wanted

    def chosen(code: str) -> bool:
        return every or code in wanted

    database_url, drop = _fresh_database(backend, admin)
    run = scenarios.Run(backend, database_url, size, workers)
    record = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "backend": backend,
        "size": size.name,
        "workers": workers,
        "machine": machine.describe(database_url),
    }
    print(f"Dosi benchmarks: {backend}, size {size.name}, {workers} workers")
    began = time.perf_counter()
    try:
        print("ceilings (same run):")
        run.ceilings.update(ceilings.http(workers, size.seconds, scenarios.S8_RATE))
        raw_rows = min(size.entities, 100_000)
        if backend == "sqlite":
            run.ceilings.update(ceilings.sqlite_raw(raw_rows))
        else:
            run.ceilings.update(ceilings.postgres_raw(database_url, raw_rows))
        for name, value in run.ceilings.items():
            print(f"  {name:24} {report.quantity(name, value)}")
        run.dosi = server.dosi(database_url, workers, {"DOSI_OUTBOUND_ALLOW": "127.0.0.1/32"}).start()
        print("scenarios:")
        for scenario in scenarios.WRITE_SCENARIOS:
            if chosen(scenario.__name__[:2].upper()):
                scenario(run)
        needs_city = any(chosen(c) for c in ("S3", "S4", "S5", "S6", "S10", "S11"))
        if needs_city:
            rate = scenarios.load_city(run, size.entities)
            record["city_load_entities_per_s"] = round(rate, 1)
            print(f"  (loaded {size.entities:,} entities at {rate:,.0f}/s)")
            if backend == "postgres":
                # what autovacuum does within a minute or two of a bulk load (it is off on this machine, on by
                # default): fresh statistics, and the visibility map that lets an index answer without the table
                asyncio.run(run_sql(database_url, "VACUUM ANALYZE"))
        for scenario in scenarios.READ_SCENARIOS:
            if chosen(scenario.__name__[:2].upper()):
                scenario(run)
        if chosen("S10"):
            scenarios.s10_memory(run)
        if chosen("S7"):
            scenarios.s7_aggregate(run)
        if chosen("S8"):
            scenarios.s8_notify(run)
        run.dosi.stop()
        run.dosi = None
        if chosen("S9"):
            scenarios.s9_mqtt(run)
        if chosen("S11"):
            scenarios.s11_startup(run)
    finally:
        if run.dosi is not None:
            run.dosi.stop()
        drop()
    record["seconds"] = round(time.perf_counter() - began, 1)
    record["ceilings"] = {k: round(v, 4) for k, v in run.ceilings.items()}  # floors are small: 0.105 ms
    record["results"] = [r.record() for r in run.results]
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    path = out / f"{stamp}-{backend}-{size.name}.json"
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    print(f"record: {path} ({record['seconds']} s)")
    return 0


def _fresh_database(backend: str, admin: str) -> tuple[str, Callable[[], None]]:
    """A store of its own for this run, and the function that removes it."""
    if backend == "sqlite":
        folder = tempfile.mkdtemp(prefix="dosi-bench-")
        return f"sqlite:///{folder}/bench.db", lambda: None
    name = f"dosi_bench_{uuid.uuid4().hex[:8]}"
    url = admin.rpartition("/")[0] + "/" + name
    asyncio.run(run_sql(admin, f'CREATE DATABASE "{name}"'))
    asyncio.run(run_sql(url, "CREATE EXTENSION IF NOT EXISTS postgis"))

    def drop() -> None:
        asyncio.run(run_sql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return url, drop


if __name__ == "__main__":
    sys.exit(main())
