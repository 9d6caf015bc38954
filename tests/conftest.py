"""Shared fixtures: every store-backed test runs on SQLite and on PostgreSQL.

PostgreSQL tests read DOSI_TEST_PG_URL (e.g. postgresql://postgres@127.0.0.1:5432/postgres) and
create a uniquely named database for the run. Without the URL they are skipped, unless
DOSI_TEST_REQUIRE_ALL=1 (as in CI), which turns the skip into a failure.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench.server import free_port

from dosi.api.app import create_app
from dosi.api.hub import open_store
from dosi.settings import Settings
from dosi.store.base import EntityStore

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _admin_url() -> str | None:
    return os.environ.get("DOSI_TEST_PG_URL")


def _require_all() -> bool:
    return os.environ.get("DOSI_TEST_REQUIRE_ALL") == "1"


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_admin_url())
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """A fresh PostGIS-ready database for this test run, dropped at the end."""
    admin = _admin_url()
    if not admin:
        if _require_all():
            pytest.fail("DOSI_TEST_PG_URL is not set but DOSI_TEST_REQUIRE_ALL=1")
        pytest.skip("DOSI_TEST_PG_URL is not set")
    name = f"dosi_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    base, _, _ = admin.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'dosi.db'}"
    url: str = request.getfixturevalue("pg_database_url")
    return url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, outbound_allow="")


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[EntityStore]:
    store = open_store(settings)
    await store.open()
    await store.reset()
    for policy_id, _ in await store.list_policies():  # `dosi db reset` keeps access rules, like keys
        await store.delete_policy(policy_id)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def client(settings: Settings, store: EntityStore) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, store)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://dosi.test/ngsi-ld/v1") as http:
        yield http


def entity(entity_id: str = "urn:ngsi-ld:Building:1", **attrs: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"id": entity_id, "type": attrs.pop("type", "Building")}
    body.update(attrs)
    return body


from hypothesis import settings as hypothesis_settings  # noqa: E402

hypothesis_settings.register_profile("ci", max_examples=100, deadline=None, derandomize=True)
hypothesis_settings.register_profile("dev", deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


_free_port = free_port  # tests ask for a port the same way the benchmarks do


@pytest.fixture
def mosquitto() -> Iterator[int]:
    """A Mosquitto of our own on a free port (persistence and large queues, as operators should run it)."""
    if not (shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()):
        pytest.fail("mosquitto is required for the MQTT tests")
    from bench.mqtt import broker

    with broker() as port:
        yield port
