"""Authentication, authorization by role and tenant, and the audit chain, on both backends.

The OpenID Connect issuer is a real HTTP server of the test's own on 127.0.0.1 (discovery document + JWKS).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import click
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from dosi.api.app import create_app
from dosi.cli.serve import announce_access
from dosi.ngsild.model import now_iso
from dosi.security import apikeys
from dosi.security.access import action_of
from dosi.security.audit import verify
from dosi.security.limits import RateLimiter
from dosi.security.tokens import LOCAL_KEY, local_token, new_signing_key
from dosi.settings import Settings
from dosi.store.base import ApiKey, EntityStore

BUILDING = {"id": "urn:ngsi-ld:Building:1", "type": "Building", "name": {"type": "Property", "value": "City Hall"}}


class Issuer:
    """An OpenID Connect issuer: /.well-known/openid-configuration and a JWKS, over real HTTP."""

    def __init__(self) -> None:
        self.keys = {"k1": rsa.generate_private_key(public_exponent=65537, key_size=2048)}
        self.url = ""
        self.jwks_fetches = 0

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid, key in self.keys.items():
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "alg": "RS256", "use": "sig"})
        return {"keys": keys}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        path = head.split(b" ")[1].decode()
        if path.endswith("openid-configuration"):
            body = {"issuer": self.url, "jwks_uri": self.url + "/certs"}
        else:
            self.jwks_fetches += 1
            body = self.jwks()
        data = json.dumps(body).encode()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n")
        writer.write(f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
        await writer.drain()
        writer.close()

    def token(self, kid: str = "k1", **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": self.url, "aud": "dosi", "sub": "alice", "iat": now, "exp": now + 300, **claims}
        return jwt.encode(body, self.keys[kid], algorithm="RS256", headers={"kid": kid})


@pytest.fixture
async def issuer() -> AsyncIterator[Issuer]:
    found = Issuer()
    server = await asyncio.start_server(found.handle, "127.0.0.1", 0)
    found.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/realms/city"
    yield found
    server.close()


@pytest.fixture
async def secured(settings: Settings, store: EntityStore, issuer: Issuer) -> AsyncIterator[httpx.AsyncClient]:
    secure = settings.model_copy(update={"auth": "on", "oidc_issuer": issuer.url})
    transport = httpx.ASGITransport(app=create_app(secure, store))
    async with httpx.AsyncClient(transport=transport, base_url="http://dosi.test/ngsi-ld/v1") as http:
        yield http


async def make_key(store: EntityStore, roles: list[str], tenants: list[str] | None = None, **extra: Any) -> str:
    fresh = apikeys.new_key()
    await store.put_api_key(ApiKey(fresh.key_id, "test", fresh.hash, roles, tenants, now_iso(), **extra))
    return fresh.text


def keyed(key: str, tenant: str | None = None) -> dict[str, str]:
    headers = {"X-API-Key": key}
    if tenant is not None:
        headers["NGSILD-Tenant"] = tenant
    return headers


async def test_no_credentials_is_a_clean_401(secured: httpx.AsyncClient) -> None:
    answer = await secured.get("/entities", params={"type": "Building"})
    assert answer.status_code == 401
    assert answer.json()["type"] == "urn:dosi:error:Unauthorized"
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await secured.get("/entities", headers={"X-API-Key": "dosi_nope_nope"})).status_code == 401


async def test_roles_decide_actions(secured: httpx.AsyncClient, store: EntityStore) -> None:
    operator = await make_key(store, ["operator"])
    consumer = await make_key(store, ["consumer"])
    assert (await secured.post("/entities", json=BUILDING, headers=keyed(operator))).status_code == 201
    assert (await secured.get(f"/entities/{BUILDING['id']}", headers=keyed(consumer))).status_code == 200
    denied = await secured.post("/entities", json={**BUILDING, "id": "urn:ngsi-ld:Building:2"}, headers=keyed(consumer))
    assert denied.status_code == 403 and denied.json()["type"] == "urn:dosi:error:Forbidden"
    assert (await secured.get("/entities/urn:ngsi-ld:Building:2", headers=keyed(operator))).status_code == 404
    assert (await secured.delete(f"/entities/{BUILDING['id']}", headers=keyed(consumer))).status_code == 403
    admin_only = await secured.post("/jsonldContexts", json={"@context": {}}, headers=keyed(operator))
    assert admin_only.status_code == 403


async def test_tenants_are_fenced(secured: httpx.AsyncClient, store: EntityStore) -> None:
    seoul = await make_key(store, ["operator"], ["seoul"])
    assert (await secured.post("/entities", json=BUILDING, headers=keyed(seoul, "seoul"))).status_code == 201
    assert (
        await secured.get("/entities", params={"type": "Building"}, headers=keyed(seoul, "busan"))
    ).status_code == 403
    assert (await secured.get("/entities", params={"type": "Building"}, headers=keyed(seoul))).status_code == 403


async def test_revoked_and_expired_keys_stop_working(secured: httpx.AsyncClient, store: EntityStore) -> None:
    key = await make_key(store, ["consumer"])
    assert (await secured.get("/types", headers=keyed(key))).status_code == 200
    await store.revoke_api_key(apikeys.split(key)[0], now_iso())  # type: ignore[index]
    assert (await secured.get("/types", headers=keyed(key))).status_code == 401
    old = await make_key(store, ["consumer"], expires_at="2020-01-01T00:00:00Z")
    assert (await secured.get("/types", headers=keyed(old))).status_code == 401
    listed = {k.key_id: k for k in await store.list_api_keys()}
    assert listed[apikeys.split(key)[0]].last_used_at is not None  # type: ignore[index]
    assert all(k.hash != key for k in listed.values())  # only hashes are stored


async def test_oidc_tokens(secured: httpx.AsyncClient, issuer: Issuer) -> None:
    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    operator = issuer.token(realm_access={"roles": ["operator"]})
    assert (await secured.post("/entities", json=BUILDING, headers=bearer(operator))).status_code == 201
    consumer = issuer.token(realm_access={"roles": ["consumer"]})
    assert (await secured.get("/types", headers=bearer(consumer))).status_code == 200
    assert (await secured.delete(f"/entities/{BUILDING['id']}", headers=bearer(consumer))).status_code == 403
    for bad in (
        issuer.token(aud="someone-else", realm_access={"roles": ["admin"]}),
        issuer.token(exp=int(time.time()) - 3600, realm_access={"roles": ["admin"]}),
        jwt.encode(
            {"iss": issuer.url, "aud": "dosi", "sub": "x", "exp": time.time() + 60},
            "a-shared-secret-of-thirty-two-bytes!",
            "HS256",
        ),
        operator[:-4] + "AAAA",  # signature changed
        "not-a-jwt",
    ):
        answer = await secured.get("/types", headers=bearer(bad))
        assert answer.status_code == 401, bad
    # the issuer rotates its key: a token with the new kid makes the hub fetch the JWKS again
    issuer.keys["k2"] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    before = issuer.jwks_fetches
    rotated = issuer.token(kid="k2", realm_access={"roles": ["consumer"]})
    await asyncio.sleep(0)
    answer = await secured.get("/types", headers=bearer(rotated))
    assert answer.status_code in (200, 401)  # a refetch is allowed once every 10 s
    if answer.status_code == 200:
        assert issuer.jwks_fetches == before + 1


async def test_local_issuer_tokens(secured: httpx.AsyncClient, store: EntityStore) -> None:
    pem = await store.secret(LOCAL_KEY, new_signing_key)
    token = local_token(pem, "dev", ["provider"], None, "dosi", 5)
    headers = {"Authorization": f"Bearer {token}"}
    assert (await secured.post("/entities", json=BUILDING, headers=headers)).status_code == 201
    assert (await secured.delete(f"/entities/{BUILDING['id']}", headers=headers)).status_code == 403
    forged = local_token(new_signing_key(), "dev", ["admin"], None, "dosi", 5)  # signed by another key
    assert (await secured.get("/types", headers={"Authorization": f"Bearer {forged}"})).status_code == 401


async def test_writes_and_denials_are_audited_in_a_chain(secured: httpx.AsyncClient, store: EntityStore) -> None:
    known = len(await store.audit_log(0, 100_000))  # the chain outlives `dosi db reset`: earlier tests' records
    operator = await make_key(store, ["operator"])
    await secured.post("/entities", json=BUILDING, headers=keyed(operator))
    await secured.get("/types", headers=keyed(operator))  # reads are not audited
    await secured.delete(f"/entities/{BUILDING['id']}", headers=keyed("dosi_bad_key"))
    rows = (await store.audit_log(0, 100_000))[known:]
    docs = [json.loads(doc) for _, doc, _ in rows]
    assert [(d["action"], d["decision"], d["status"]) for d in docs] == [
        ("create", "allow", 201),
        ("delete", "deny", 401),
    ]
    verdict = await verify(store)
    assert verdict.intact and verdict.records == known + 2
    seq, doc, _ = rows[0]
    await _set_audit_doc(store, seq, doc.replace("allow", "deny"))
    assert (await verify(store)).broken_at == seq
    await _set_audit_doc(store, seq, doc)  # the per-run PostgreSQL database is shared by later tests
    assert (await verify(store)).intact


async def _set_audit_doc(store: EntityStore, seq: int, doc: str) -> None:
    if hasattr(store, "db"):
        store.db.execute("UPDATE audit SET doc = ? WHERE seq = ?", (doc, seq))
    else:
        await store.pool.execute("UPDATE audit SET doc = $1 WHERE seq = $2", doc, seq)  # type: ignore[attr-defined]


def test_actions_of_requests() -> None:
    assert action_of("GET", "/entities") == "read"
    assert action_of("POST", "/entityOperations/query") == "read"
    assert action_of("POST", "/entities") == "create"
    assert action_of("POST", "/entities/urn:x:1/attrs") == "update"
    assert action_of("POST", "/entityOperations/upsert") == "update"
    assert action_of("DELETE", "/entities/urn:x:1") == "delete"
    assert action_of("POST", "/entityOperations/delete") == "delete"
    assert action_of("POST", "/subscriptions") == "subscribe"
    assert action_of("GET", "/subscriptions") == "read"
    assert action_of("POST", "/jsonldContexts") == "admin"
    assert action_of("POST", "/dosi/v1/ingest/traffic") == "update"
    assert action_of("GET", "/dosi/v1/ingest/status") == "read"
    assert action_of("GET", "/dosi/v1/ingest/rejected") == "admin"
    assert action_of("POST", "/dosi/v1/models") == "admin"
    assert action_of("GET", "/dosi/v1/models/ParkingSpot") == "read"


def test_serve_refuses_a_public_address_without_authentication(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    with pytest.raises(click.ClickException, match="refusing"):
        announce_access(Settings(database_url=url, host="0.0.0.0"))
    announce_access(Settings(database_url=url, host="127.0.0.1"))  # open, announced
    announce_access(Settings(database_url=url, host="127.0.0.1", auth="on"))  # local issuer tokens or keys
    announce_access(Settings(database_url=url, host="0.0.0.0", auth="off-unsafe"))  # forced, warned
    announce_access(Settings(database_url=url, host="0.0.0.0", oidc_issuer="https://id.city.example/realms/city"))


def test_rate_limiter_refills() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=2.0, burst=2.0, clock=lambda: now[0])
    assert [limiter.retry_after("k") for _ in range(3)] == [0, 0, 1]
    now[0] += 0.5  # one token back
    assert limiter.retry_after("k") == 0 and limiter.retry_after("k") == 1
    assert limiter.retry_after("other") == 0  # buckets are per key
    assert RateLimiter(rate=0, burst=1).retry_after("k") == 0  # 0: no limit


async def test_too_many_requests(settings: Settings, store: EntityStore) -> None:
    limited = settings.model_copy(update={"auth": "on", "rate_limit_per_client": 1.0, "rate_limit_burst": 1.0})
    transport = httpx.ASGITransport(app=create_app(limited, store))
    key = await make_key(store, ["consumer"])
    async with httpx.AsyncClient(transport=transport, base_url="http://dosi.test/ngsi-ld/v1") as http:
        assert (await http.get("/types", headers=keyed(key))).status_code == 200
        answer = await http.get("/types", headers=keyed(key))
    assert answer.status_code == 429 and int(answer.headers["Retry-After"]) >= 1
    assert answer.json()["type"] == "urn:dosi:error:TooManyRequests"


async def test_only_health_is_public(secured: httpx.AsyncClient) -> None:
    transport = secured._transport  # the same app, addressed outside /ngsi-ld/v1
    async with httpx.AsyncClient(transport=transport, base_url="http://dosi.test") as http:
        assert (await http.get("/health")).status_code == 200
        assert (await http.get("/anything-else")).status_code == 401


async def test_devices_push_with_a_provider_key(secured: httpx.AsyncClient, store: EntityStore) -> None:
    await store.put_source("meters", 'name = "meters"\nkind = "http"\ntenant = "seoul"\nvalidation = "off"\n'
                           '[mapping]\ntype = "Meter"\nid = "urn:ngsi-ld:Meter:{m}"\n[mapping.attributes]\n'
                           'reading = "r"\n', "2026-11-22T00:00:00Z")  # fmt: skip
    push = "http://dosi.test/dosi/v1/ingest/meters"
    body = b'[{"m": "1", "r": 5}, {"m": "2", "r": 7}]'
    assert (await secured.post(push, content=body)).status_code == 401
    consumer = await make_key(store, ["consumer"], ["seoul"])
    assert (await secured.post(push, content=body, headers=keyed(consumer))).status_code == 403
    elsewhere = await make_key(store, ["provider"], ["busan"])  # a key of another tenant, whatever header it sends
    assert (await secured.post(push, content=body, headers=keyed(elsewhere, "busan"))).status_code == 403
    provider = await make_key(store, ["provider"], ["seoul", ""])
    answer = await secured.post(push, content=body, headers=keyed(provider))
    assert answer.status_code == 200 and answer.json()["stored"] == 2
    found = await secured.get("/entities/urn:ngsi-ld:Meter:2", headers=keyed(provider, "seoul"))
    assert found.json()["reading"]["value"] == 7
    rejected = await secured.get("http://dosi.test/dosi/v1/ingest/rejected", headers=keyed(provider))
    assert rejected.status_code == 403  # raw payloads are for admins


async def test_admin_api_for_keys(secured: httpx.AsyncClient, store: EntityStore) -> None:
    keys = "http://dosi.test/dosi/v1/keys"
    admin = await make_key(store, ["admin"], None)
    operator = await make_key(store, ["operator"], None)
    assert (await secured.get(keys, headers=keyed(operator))).status_code == 403  # key management is admin work
    made = await secured.post(keys, headers=keyed(admin), json={"name": "jongno-air", "roles": ["provider"],
                                                                "tenants": ["seoul"], "days": 30})  # fmt: skip
    assert made.status_code == 201, made.text
    issued = made.json()
    assert issued["key"].startswith("dosi_") and issued["expiresAt"] and "hash" not in issued
    listed = (await secured.get(keys, headers=keyed(admin))).json()
    assert issued["id"] in [k["id"] for k in listed] and all("key" not in k and "hash" not in k for k in listed)
    works = await secured.post("/entities", json={"id": "urn:x:k", "type": "T"}, headers=keyed(issued["key"], "seoul"))
    assert works.status_code == 201
    for bad in ({"name": "", "roles": ["provider"]}, {"name": "x", "roles": ["king"]}, {"name": "x", "roles": "admin"},
                {"name": "x", "roles": ["public"], "days": -1}, [1, 2]):  # fmt: skip
        assert (await secured.post(keys, headers=keyed(admin), json=bad)).status_code == 400, bad
    seoul_admin = await make_key(store, ["admin"], ["seoul"])
    wider = {"name": "x", "roles": ["provider"], "tenants": None}  # a key for every tenant
    assert (await secured.post(keys, headers=keyed(seoul_admin, "seoul"), json=wider)).status_code == 403
    seen = (await secured.get(keys, headers=keyed(seoul_admin, "seoul"))).json()
    assert {issued["id"], seoul_admin.split("_")[1]} <= {k["id"] for k in seen}
    assert all(k["tenants"] is not None and set(k["tenants"]) <= {"seoul"} for k in seen)  # only its tenants' keys
    assert (await secured.delete(f"{keys}/{issued['id']}", headers=keyed(seoul_admin, "seoul"))).status_code == 204
    again = await secured.post("/entities", json={"id": "urn:x:k2", "type": "T"}, headers=keyed(issued["key"], "seoul"))
    assert again.status_code == 401
    assert (await secured.delete(f"{keys}/{issued['id']}", headers=keyed(admin))).status_code == 404


async def test_a_nul_character_in_a_url_is_a_clean_400(secured: httpx.AsyncClient, store: EntityStore) -> None:
    admin = await make_key(store, ["admin"])
    for url in (
        "http://dosi.test/dosi/v1/ingest/rejected?source=%00",  # found by Schemathesis: PostgreSQL refused it
        "http://dosi.test/dosi/v1/keys/a%00b",
        "/entities/urn:ngsi-ld:x%00y",
        "/entities?type=A%00",
    ):
        answer = await secured.get(url, headers=keyed(admin))
        assert answer.status_code == 400 and answer.json()["type"].endswith("BadRequestData"), url
