"""Every error class renders as one ProblemDetails shape; malformed requests never answer 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dosi.api.app import create_app, problem_response
from dosi.errors import ALL_ERRORS, DosiError
from dosi.settings import Settings
from dosi.store.base import EntityStore

ETSI_NAMED = {
    "InvalidRequest",
    "BadRequestData",
    "AlreadyExists",
    "OperationNotSupported",
    "ResourceNotFound",
    "NonexistentTenant",
    "TooComplexQuery",
    "TooManyResults",
    "LdContextNotAvailable",
    "InternalError",
}


@pytest.mark.parametrize("error_class", ALL_ERRORS, ids=lambda c: c.__name__)
def test_problem_details_shape(error_class: type[DosiError]) -> None:
    error = error_class("something specific went wrong")
    response = problem_response(error)
    assert response.status_code == error_class.status
    assert response.headers["content-type"] == "application/json"
    import orjson

    body = orjson.loads(response.body)
    assert set(body) == {"type", "title", "status", "detail"}
    assert body["status"] == error_class.status
    assert body["title"] and body["detail"] and body["title"] != body["detail"]
    if error_class.__name__ in ETSI_NAMED:
        assert body["type"] == "https://uri.etsi.org/ngsi-ld/errors/" + error_class.__name__
    else:
        assert body["type"] == "urn:dosi:error:" + error_class.__name__


CASES = [
    (
        "POST",
        "/entities",
        {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
        400,
        "InvalidRequest",
    ),
    ("POST", "/entities", {"json": {"id": "not a uri", "type": "T"}}, 400, "BadRequestData"),
    ("POST", "/entities", {"content": b"<x/>", "headers": {"Content-Type": "application/xml"}}, 415, None),
    ("GET", "/entities/urn:x:1", {"headers": {"Accept": "application/xml"}}, 406, None),
    ("GET", "/entities/urn:x:404", {}, 404, "ResourceNotFound"),
    ("GET", "/entities", {"params": {"type": "T", "limit": "999999"}}, 403, "TooManyResults"),
    ("GET", "/entities", {"params": {"type": "T", "bogus": "1"}}, 400, "InvalidRequest"),
    ("GET", "/entities", {"params": {"q": "a==(", "type": "T"}}, 400, None),
    (
        "GET",
        "/entities",
        {"params": {"type": "T", "georel": "near", "geometry": "Point", "coordinates": "[1]"}},
        400,
        "BadRequestData",
    ),
    ("DELETE", "/entities/urn:x:1/attrs", {}, 405, None),
    ("PATCH", "/entities", {"json": {}}, 400, "BadRequestData"),
    ("GET", "/entities", {"params": {"type": "T"}, "headers": {"NGSILD-Tenant": "nobody"}}, 404, "NonexistentTenant"),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "etsi"), CASES)
async def test_error_answers(
    client: httpx.AsyncClient, method: str, path: str, kwargs: dict, status: int, etsi: str | None
) -> None:
    answer = await client.request(method, path, **kwargs)
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["status"] == status and body["title"] and body["detail"]
    if etsi:
        assert body["type"] == "https://uri.etsi.org/ngsi-ld/errors/" + etsi


async def test_duplicate_is_already_exists(client: httpx.AsyncClient) -> None:
    body = {"id": "urn:x:dup", "type": "T"}
    assert (await client.post("/entities", json=body)).status_code == 201
    again = await client.post("/entities", json=body)
    assert again.status_code == 409 and again.json()["type"].endswith("AlreadyExists")


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.dictionaries(st.sampled_from(["id", "type", "name", "location", "scope", "@context", "x"]), JSONISH))
async def test_random_bodies_never_500_nor_half_write(client: httpx.AsyncClient, body: dict) -> None:
    answer = await client.post("/entities", json=body)
    assert answer.status_code < 500, answer.text
    if answer.status_code != 201:
        assert answer.json()["detail"]
    else:
        await client.delete(f"/entities/{body['id']}")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=st.text(alphabet='ab.[]()"=!<>~;|,0123456789 :', max_size=25))
async def test_random_q_never_500(client: httpx.AsyncClient, q: str) -> None:
    answer = await client.get("/entities", params={"type": "T", "q": q})
    assert answer.status_code < 500, answer.text


async def test_nul_characters_are_refused(client: httpx.AsyncClient) -> None:
    """PostgreSQL cannot store U+0000; both backends refuse it alike, as a client error."""
    body = b'{"id": "urn:x:nul", "type": "T", "name": {"type": "Property", "value": "a\\u0000b"}}'
    answer = await client.post("/entities", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and "NUL" in answer.json()["detail"]
    text = b'{"id": "urn:x:nul", "type": "T", "name": {"type": "Property", "value": "a\\\\u0000b"}}'
    kept = await client.post("/entities", content=text, headers={"Content-Type": "application/json"})
    assert kept.status_code == 201  # a backslash followed by u0000 is text, not a NUL


async def test_context_that_is_no_url_is_a_client_error(client: httpx.AsyncClient) -> None:
    body = {"id": "urn:x:ctx", "type": "T", "@context": "a:"}
    answer = await client.post("/entities", json=body, headers={"Content-Type": "application/ld+json"})
    assert answer.status_code == 400, answer.text


async def test_a_query_string_that_is_not_utf8_is_a_client_error(settings: Settings, store: EntityStore) -> None:
    app = create_app(settings, store)
    answers: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        answers.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": "/ngsi-ld/v1/entities", "raw_path": b"/ngsi-ld/v1/entities", "query_string": b"type=\xff\xfe",
             "root_path": "", "headers": [(b"host", b"dosi.test")], "client": ("127.0.0.1", 1),
             "server": ("127.0.0.1", 80)}  # fmt: skip
    await app(scope, receive, send)
    assert answers[0]["status"] == 400


async def test_each_method_of_a_path_reaches_its_own_endpoint(client: httpx.AsyncClient) -> None:
    """Routes of one path are one route choosing by method: each method still lands where it belongs."""
    assert (await client.post("/entities", json={"id": "urn:x:m", "type": "T", "a": 1})).status_code == 201
    assert (await client.get("/entities/urn:x:m")).json()["a"]["value"] == 1
    head = await client.head("/entities/urn:x:m")
    assert head.status_code == 200 and head.content == b""
    assert (await client.patch("/entities/urn:x:m", json={"a": 2})).status_code == 204
    assert (await client.put("/entities/urn:x:m", json={"type": "T", "b": 3})).status_code == 204
    assert set((await client.get("/entities/urn:x:m")).json()) == {"id", "type", "b"}
    refused = await client.request("DELETE", "/entities/urn:x:m/attrs")
    assert refused.status_code == 405
    assert set(refused.headers["allow"].split(", ")) == {"POST", "PATCH"}
    assert (await client.delete("/entities/urn:x:m")).status_code == 204
    assert (await client.get("/entities/urn:x:m")).status_code == 404
