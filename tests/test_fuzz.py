"""Property-based fuzzing of the input paths: q, scopeQ, geo-queries, temporal parameters, JSON-LD @context,
ingest pushes and model registration. Whatever arrives, the answer is never a 500."""

from __future__ import annotations

import json
import os
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dosi.api.app import create_app
from dosi.settings import Settings
from dosi.store.base import EntityStore

FUZZ = settings(
    max_examples=int(os.environ.get("DOSI_FUZZ_EXAMPLES", "60")),  # raise it to hunt: DOSI_FUZZ_EXAMPLES=1000
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
SEEDS = [
    {"id": "urn:ngsi-ld:T:1", "type": "T", "scope": ["/Seoul/Gangnam"],
     "n": {"type": "Property", "value": 3.5, "observedAt": "2026-11-21T05:00:00Z"},
     "s": {"type": "Property", "value": "free"},
     "r": {"type": "Relationship", "object": "urn:ngsi-ld:T:2"},
     "deep": {"type": "Property", "value": {"a": [1, 2], "b": {"c": "x"}}},
     "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [127.0, 37.5]}}},
    {"id": "urn:ngsi-ld:T:2", "type": "T", "n": {"type": "Property", "value": 7},
     "location": {"type": "GeoProperty", "value": {"type": "Polygon", "coordinates": [
         [[127, 37], [127.1, 37], [127.1, 37.1], [127, 37]]]}}},
]  # fmt: skip
PUSH_SOURCE = """
name = "fuzz"
kind = "http"
validation = "strict"
[mapping]
type = "TrafficFlowObserved"
id = "urn:ngsi-ld:TrafficFlowObserved:{d}"
observed_at = { field = "t", format = "epoch" }
location = { lat = "lat", lon = "lon" }
[mapping.attributes]
intensity = { field = "n", function = "number", required = true }
congested = { field = "c", function = "boolean" }
"""


@pytest.fixture
async def hub(settings: Settings, store: EntityStore) -> Any:
    await store.put_source("fuzz", PUSH_SOURCE, "2026-11-22T00:00:00Z")
    transport = httpx.ASGITransport(app=create_app(settings, store))
    async with httpx.AsyncClient(transport=transport, base_url="http://dosi.test") as http:
        for seed in SEEDS:
            assert (await http.post("/ngsi-ld/v1/entities", json=seed)).status_code == 201
        yield http


def sound(answer: httpx.Response) -> None:
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        body = answer.json()
        assert body["type"] and body["detail"] and body["status"] == answer.status_code


Q_ALPHABET = "nsrdeplocation.[]()\"'=!<>~;|,0123456789 :-T_/*\\"


@FUZZ
@given(q=st.text(alphabet=Q_ALPHABET, max_size=40), scope=st.text(alphabet="/Seoul;|()Gangnam#+*, ", max_size=20))
async def test_q_and_scope_q(hub: httpx.AsyncClient, q: str, scope: str) -> None:
    sound(await hub.get("/ngsi-ld/v1/entities", params={"type": "T", "q": q}))
    sound(await hub.get("/ngsi-ld/v1/entities", params={"type": "T", "scopeQ": scope}))
    since = {"timerel": "after", "timeAt": "2000-01-01T00:00:00Z"}
    sound(await hub.get("/ngsi-ld/v1/temporal/entities", params={"type": "T", "q": q, **since}))


GEORELS = ["near;maxDistance==300", "near;minDistance==-5", "near;maxDistance==abc", "within", "contains",
           "intersects", "equals", "disjoint", "overlaps", "near", "inside"]  # fmt: skip
GEOREL = st.sampled_from(GEORELS) | st.text(max_size=12)
GEOMETRY = st.sampled_from(["Point", "LineString", "Polygon", "MultiPoint", "MultiPolygon"]) | st.text(max_size=8)
NUMBER = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**20), 10**20)
COORDINATES = st.recursive(NUMBER, lambda inner: st.lists(inner, max_size=5), max_leaves=12)
GEO_PROPERTY = st.sampled_from([None, "location", "n", "nothing", "@id"])


@FUZZ
@given(georel=GEOREL, geometry=GEOMETRY, coordinates=COORDINATES | st.text(max_size=20), prop=GEO_PROPERTY)
async def test_geo_queries(hub: httpx.AsyncClient, georel: str, geometry: str, coordinates: Any, prop: Any) -> None:
    text = coordinates if isinstance(coordinates, str) else json.dumps(coordinates)
    params = {"type": "T", "georel": georel, "geometry": geometry, "coordinates": text}
    if prop:
        params["geoproperty"] = prop
    sound(await hub.get("/ngsi-ld/v1/entities", params=params))
    if isinstance(coordinates, str) or not _finite(coordinates):
        return  # JSON bodies cannot carry NaN or infinities
    geo_q = {"georel": georel, "geometry": geometry, "coordinates": coordinates}
    query = {"type": "Query", "entities": [{"type": "T"}], "geoQ": geo_q}
    sound(await hub.post("/ngsi-ld/v1/entityOperations/query", json=query))


def _finite(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:
        return False
    return True


TEMPORAL = {
    "timerel": st.sampled_from(["before", "after", "between", "sometime"]) | st.text(max_size=6),
    "timeAt": st.sampled_from(["2026-11-21T05:00:00Z", "2026-11-21", "yesterday", "2026-13-45T99:00:00Z", ""]),
    "endTimeAt": st.sampled_from(["2026-11-22T00:00:00Z", "nope", "0"]),
    "lastN": st.sampled_from(["1", "0", "-3", "x", "99999999999999999999"]),
    "aggrMethods": st.sampled_from(["avg", "avg,max,totalCount", "median", "", "sum,sum"]),
    "aggrPeriodDuration": st.sampled_from(["PT1H", "P1D", "PT0S", "PT0.001S", "P", "1h", "P1Y2M", "-PT1H"]),
    "options": st.sampled_from(["temporalValues", "aggregatedValues", "sysAttrs,keyValues", "bogus"]),
    "timeproperty": st.sampled_from(["observedAt", "createdAt", "modifiedAt", "deletedAt", "x"]),
}


@FUZZ
@given(params=st.fixed_dictionaries({}, optional=TEMPORAL))
async def test_temporal_parameters(hub: httpx.AsyncClient, params: dict[str, str]) -> None:
    sound(await hub.get("/ngsi-ld/v1/temporal/entities", params={"type": "T", **params}))
    sound(await hub.get("/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:T:1", params=params))


TERM = st.text(alphabet="abcnrs@:/#_-", min_size=1, max_size=8)
DEFINITION = st.one_of(
    st.text(max_size=12),
    st.none(),
    st.fixed_dictionaries(
        {},
        optional={
            "@id": st.text(max_size=12) | st.none() | st.integers(),
            "@type": st.sampled_from(["@id", "@vocab", "@json", "xsd:int"]) | st.text(max_size=5),
            "@container": st.sampled_from(["@list", "@set", "@language", "x"]),
            "@context": st.just({}),
        },
    ),  # fmt: skip
)
LOCAL_CONTEXT = st.dictionaries(TERM, DEFINITION, max_size=4)
CONTEXT = st.one_of(
    LOCAL_CONTEXT,
    st.lists(LOCAL_CONTEXT | st.just("https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"), max_size=3),
    st.text(alphabet="abc:/", max_size=8),  # not a URL that resolves anywhere: refused before any network call
    st.integers(),
)


@FUZZ
@given(context=CONTEXT, attrs=st.dictionaries(TERM, JSONISH, max_size=3))
async def test_json_ld_contexts(hub: httpx.AsyncClient, context: Any, attrs: dict[str, Any]) -> None:
    body = {"id": "urn:ngsi-ld:Fuzz:1", "type": "Fuzz", **attrs, "@context": context}
    answer = await hub.post("/ngsi-ld/v1/entities", json=body, headers={"Content-Type": "application/ld+json"})
    sound(answer)
    if answer.status_code == 201:
        await hub.delete("/ngsi-ld/v1/entities/urn:ngsi-ld:Fuzz:1")
    link = f'<{context}>; rel="http://www.w3.org/ns/json-ld#context"' if isinstance(context, str) else "x"
    sound(await hub.get("/ngsi-ld/v1/entities", params={"type": "T"}, headers={"Link": link}))


SHORT = st.text(max_size=6)
RECORD_FIELDS = {"d": SHORT | st.integers(), "t": NUMBER | SHORT, "n": NUMBER | SHORT, "c": JSONISH,
                 "lat": NUMBER | SHORT, "lon": NUMBER | SHORT}  # fmt: skip
RECORD = st.fixed_dictionaries({}, optional=RECORD_FIELDS)


@FUZZ
@given(body=st.one_of(st.lists(RECORD, max_size=5), RECORD, JSONISH, st.binary(max_size=40)))
async def test_ingest_pushes(hub: httpx.AsyncClient, body: Any) -> None:
    content = body if isinstance(body, bytes) else json.dumps(body, allow_nan=True).encode()
    answer = await hub.post("/dosi/v1/ingest/fuzz", content=content)
    assert answer.status_code in (200, 207), answer.text
    result = answer.json()
    assert all(r["reason"] for r in result["rejected"])


MODEL_FIELDS = {
    "type": JSONISH | st.text(min_size=1, max_size=6),
    "uri": JSONISH | st.just("https://example.org/F"),
    "title": JSONISH,
    "attributes": st.dictionaries(st.text(max_size=5), JSONISH, max_size=3) | JSONISH,
    "required": JSONISH,
}


@FUZZ
@given(doc=st.fixed_dictionaries({}, optional=MODEL_FIELDS))
async def test_model_documents(hub: httpx.AsyncClient, doc: dict[str, Any]) -> None:
    answer = await hub.post("/dosi/v1/models", content=json.dumps(doc, allow_nan=True).encode())
    sound(answer)
    assert answer.status_code in (201, 204, 400)
