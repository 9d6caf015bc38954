"""Several processes write one SQLite file: writers queue on a file lock instead of SQLite's sleeping retries."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from pathlib import Path
from typing import Any

from dosi.store.base import EntityQuery
from dosi.store.sqlite import SqliteStore, _path_of


def _entity(number: int) -> dict:  # type: ignore[type-arg]
    now = "2026-11-22T00:00:00Z"
    return {"id": f"urn:x:{number}", "type": ["https://e.org/T"], "createdAt": now, "modifiedAt": now, "attrs": {}}


async def test_two_connections_share_the_file_without_losing_a_write(tmp_path: Path) -> None:
    # two stores on one file stand for two worker processes: each has its own connection and lock descriptor
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first, second = SqliteStore(url), SqliteStore(url)
    await first.open()
    await second.open()

    async def write(store: SqliteStore, number: int) -> None:
        async with store.transaction("") as tx:
            assert await tx.insert(_entity(number))
            await asyncio.sleep(0)  # hold the group open across a turn of the event loop

    await asyncio.gather(*(write(first if n % 2 else second, n) for n in range(200)))
    found = await first.query(EntityQuery(tenant="", limit=1000, count=True))
    assert found.count == 200
    await first.close()
    await second.close()


def test_workers_migrate_a_new_file_at_once(tmp_path: Path) -> None:
    # `dosi serve --workers N` opens the store in N processes together, and each migrates: none may fail
    url = f"sqlite:///{tmp_path / 'new.db'}"
    start = threading.Barrier(6)
    failures: list[BaseException] = []

    def open_and_close() -> None:
        store = SqliteStore(url)
        start.wait()
        try:
            asyncio.run(store.open())
        except BaseException as err:
            failures.append(err)
        finally:
            asyncio.run(store.close())

    threads = [threading.Thread(target=open_and_close) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    store = SqliteStore(url)
    asyncio.run(store.open())
    assert store.migrate() == []  # everything applied, once (the names are the table's primary key)
    asyncio.run(store.close())


def test_a_database_url_names_the_file_it_means() -> None:
    # a plain absolute path lost its leading slash and became a file under the working directory
    assert _path_of("/var/lib/dosi/hub.db") == "/var/lib/dosi/hub.db"
    assert _path_of("sqlite:////var/lib/dosi/hub.db") == "/var/lib/dosi/hub.db"
    assert _path_of("sqlite:///./dosi.db") == "./dosi.db"
    assert _path_of("sqlite:///hub.db") == "hub.db"
    assert _path_of("sqlite:///:memory:") == ":memory:"
    assert _path_of("sqlite://") == "dosi.db"


def _open_at_once(path: str, start: Any, answers: Any) -> None:
    start.wait()
    try:
        asyncio.run(SqliteStore(path).open())
        answers.put("ok")
    except Exception as err:  # reported to the test, which names it
        answers.put(f"{type(err).__name__}: {err}")


def test_worker_processes_open_a_new_database_at_once(tmp_path: Path) -> None:
    """`dosi serve --workers N` on a new database: every worker opens it at the same moment, and the switch to WAL
    answered "database is locked" to all but one (the server then stopped)."""
    context = multiprocessing.get_context("fork")
    for attempt in range(8):
        start, answers = context.Barrier(3), context.Queue()
        path = str(tmp_path / f"hub-{attempt}.db")
        workers = [context.Process(target=_open_at_once, args=(path, start, answers)) for _ in range(3)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(30)
        assert [answers.get(timeout=5) for _ in workers] == ["ok"] * 3
