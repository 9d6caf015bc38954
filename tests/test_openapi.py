"""The OpenAPI description: it describes every route, and Schemathesis, driven by it, finds no server error and
no policy violation, once per role, against a real `dosi serve` (with authentication on) on both backends.

DOSI_FUZZ_EXAMPLES sets the examples per operation and generation mode (default 4; try 50 for a longer hunt).
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from bench.server import Server, dosi
from hypothesis import HealthCheck, given, settings
from starlette.routing import Mount, Route

from dosi.api.app import create_app
from dosi.api.hub import open_store
from dosi.api.openapi import OPERATIONS
from dosi.ngsild.model import now_iso
from dosi.security import apikeys
from dosi.settings import Settings
from dosi.store.base import ApiKey

EXAMPLES = int(os.environ.get("DOSI_FUZZ_EXAMPLES", "4"))
UNDESCRIBED = {("PUT", "/ngsi-ld/v1/entities"), ("PATCH", "/ngsi-ld/v1/entities")}  # answer 400 "no id" only

CITY = [
    {"id": "urn:ngsi-ld:ParkingSpot:gangnam-1", "type": "ParkingSpot", "scope": "/Seoul/Gangnam",
     "status": {"type": "Property", "value": "free"}, "name": {"type": "Property", "value": "Gangnam Lot A"}},
    {"id": "urn:ngsi-ld:ParkingSpot:jongno-1", "type": "ParkingSpot", "scope": "/Seoul/Jongno",
     "status": {"type": "Property", "value": "free"}, "name": {"type": "Property", "value": "Jongno Lot B"}},
    {"id": "urn:ngsi-ld:HouseholdEnergy:h1", "type": "HouseholdEnergy",
     "consumption": {"type": "Property", "value": 412.5}, "address": {"type": "Property", "value": "Jong-ro 12"}},
]  # fmt: skip
ELSEWHERE = {"id": "urn:ngsi-ld:ParkingSpot:haeundae-1", "type": "ParkingSpot",
             "name": {"type": "Property", "value": "Haeundae Beach Lot"}}  # fmt: skip

# what may never appear in a successful answer to each role (besides the other tenant's data, for all roles)
NEVER_SHOWN = {
    "admin": [],
    "operator": [],
    "provider": [],
    "consumer": [],
    "public": ["HouseholdEnergy", "Jong-ro 12", "consumption"],  # the public role is narrowed to parking
    "dataset key": ["HouseholdEnergy", "Jong-ro 12", "jongno-1", "Jongno Lot B", "Gangnam Lot A"],
}
ALWAYS_HIDDEN = ["haeundae", "Haeundae Beach Lot"]


def _route_table() -> set[tuple[str, str]]:
    app = create_app(Settings(database_url="sqlite:///:memory:"))
    starlette = app.app.app  # TrailingSlash -> AuthMiddleware -> Starlette
    found = set()
    for mount in starlette.routes:
        inner = mount.routes if isinstance(mount, Mount) else [mount]
        prefix = mount.path if isinstance(mount, Mount) else ""
        for route in inner:
            assert isinstance(route, Route)
            path = re.sub(r"\{[^}]+\}", "{}", prefix + route.path)
            found |= {(m, path) for m in route.methods or () if m != "HEAD"}
    return found


def test_every_route_is_described() -> None:
    described = {(m.upper(), re.sub(r"\{[^}]+\}", "{}", p)) for m, p, *_ in OPERATIONS}
    routes = {r for r in _route_table() if r[1] not in ("/health", "/openapi.json")}
    assert described - routes == set()
    assert routes - described == UNDESCRIBED


def test_the_description_is_served_without_credentials() -> None:
    transport = httpx.ASGITransport(app=create_app(Settings(database_url="sqlite:///:memory:", auth="on")))

    async def fetch() -> Any:
        async with httpx.AsyncClient(transport=transport, base_url="http://dosi.test") as http:
            return await http.get("/openapi.json")

    answer = asyncio.run(fetch())
    assert answer.status_code == 200 and answer.json()["openapi"].startswith("3.1")


async def _prepare(database_url: str) -> dict[str, str]:
    """A clean store, one API key per role (and one held by policies only), the policies; returns the keys."""
    store = open_store(Settings(database_url=database_url))
    await store.open()
    try:
        await store.reset()
        for policy_id, _ in await store.list_policies():
            await store.delete_policy(policy_id)
        keys = {}
        for role in [*NEVER_SHOWN, "setup"]:
            fresh = apikeys.new_key()
            roles = {"setup": ["admin"], "dataset key": []}.get(role, [role])
            tenants = None if role == "setup" else ["seoul"]
            await store.put_api_key(ApiKey(fresh.key_id, f"fuzz {role}", fresh.hash, roles, tenants, now_iso()))
            keys[role] = fresh.text
        return keys
    finally:
        await store.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], scope="module")
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if request.param == "sqlite":
        database_url = f"sqlite:///{tmp_path_factory.mktemp('openapi') / 'dosi.db'}"
    else:
        database_url = request.getfixturevalue("pg_database_url")
    keys = asyncio.run(_prepare(database_url))
    server = dosi(database_url, 1, {"DOSI_AUTH": "on", "DOSI_POLICY_REFRESH": "0", "DOSI_OUTBOUND_ALLOW": ""})
    with server:
        admin = {"X-API-Key": keys["setup"]}
        base = server.base
        for tenant, entities in (("seoul", CITY), ("busan", [ELSEWHERE])):
            made = httpx.post(f"{base}/ngsi-ld/v1/entityOperations/create", json=entities,
                              headers={**admin, "NGSILD-Tenant": tenant})  # fmt: skip
            assert made.status_code == 201, made.text
        dataset_key_id = keys["dataset key"].split("_")[1]
        for doc in (
            {"subject": "role:public", "actions": ["read"], "tenant": "seoul", "types": ["ParkingSpot"]},
            {"subject": f"key:{dataset_key_id}", "actions": ["read", "subscribe", "update"], "tenant": "seoul",
             "types": ["ParkingSpot"], "scopes": ["/Seoul/Gangnam"], "attributes": ["status"]},
        ):  # fmt: skip
            assert httpx.post(f"{base}/dosi/v1/policies", json=doc, headers=admin).status_code == 201
        yield server, keys


def _server_errors(log: Path) -> list[str]:
    return [line for line in log.read_text(errors="replace").splitlines() if "Traceback" in line]


def _explore(operation: Any, mode: Any, server: Server, headers: dict[str, str], never: list[str]) -> list[str]:
    """Run one operation's generated cases; returns the problems seen."""
    problems: list[str] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def probe(case: Any) -> None:
        response = case.call(base_url=server.base, headers=headers, timeout=30)
        where = f"{case.method} {case.formatted_path} ({mode.value})"
        if response.status_code >= 500:
            problems.append(f"{where}: {response.status_code} {response.text[:300]}")
        elif response.status_code < 300:
            leaked = [marker for marker in never if marker in response.text]
            if leaked:
                problems.append(f"{where}: shows {leaked}")
        elif not (response.headers.get("content-type") or [""])[0].startswith("application/"):
            problems.append(f"{where}: {response.status_code} without a ProblemDetails body")

    probe()
    return problems


@pytest.mark.parametrize("role", list(NEVER_SHOWN))
def test_schemathesis_finds_no_server_error_and_no_policy_violation(served: Any, role: str) -> None:
    server, keys = served
    schema = schemathesis.openapi.from_url(server.base + "/openapi.json")
    headers = {"X-API-Key": keys[role], "NGSILD-Tenant": "seoul"}
    never = [*NEVER_SHOWN[role], *ALWAYS_HIDDEN]
    problems = [
        problem
        for result in schema.get_all_operations()
        for mode in schemathesis.GenerationMode
        for problem in _explore(result.ok(), mode, server, headers, never)
    ]
    assert problems == [], f"{role}:\n" + "\n".join(problems[:30])
    assert _server_errors(server.log) == []
