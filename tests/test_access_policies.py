"""Who may read and write what: roles, tenants, policies and subscription owners, on both backends.

A city of two tenants is built by an admin; then every principal asks every read endpoint, and each answer is
compared with what that principal is allowed to see: no entity, attribute, history instance, type name or
notification outside it may appear, and every denial is a clean 401/403 ProblemDetails.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from dosi.api.app import create_app
from dosi.cli import main
from dosi.ngsild.model import now_iso
from dosi.settings import Settings
from dosi.store.base import EntityStore, TimeWindow
from tests.test_security import keyed, make_key

POLICIES = "http://dosi.test/dosi/v1/policies"
FUTURE, PAST = "2099-01-01T00:00:00Z", "2020-01-01T00:00:00Z"


def spot(name: str, scope: str, status: str = "free") -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:ParkingSpot:{name}",
        "type": "ParkingSpot",
        "scope": scope,
        "status": {"type": "Property", "value": status},
        "name": {"type": "Property", "value": name},
    }


HOME: dict[str, Any] = {
    "id": "urn:ngsi-ld:HouseholdEnergy:h1",
    "type": "HouseholdEnergy",
    "consumption": {"type": "Property", "value": 412.5},
    "address": {"type": "Property", "value": "12 Jong-ro"},
}
CITY = {
    "seoul": [spot("gangnam-1", "/Seoul/Gangnam"), spot("jongno-1", "/Seoul/Jongno"), HOME],
    "busan": [spot("haeundae-1", "/Busan/Haeundae")],
}
SPOTS = {"urn:ngsi-ld:ParkingSpot:gangnam-1", "urn:ngsi-ld:ParkingSpot:jongno-1"}


@dataclass
class Seen:
    """What a principal may read in one tenant: entity id -> attribute names (None: every attribute)."""

    entities: dict[str, set[str] | None] = field(default_factory=dict)

    def types(self) -> set[str]:
        return {e["type"] for tenant in CITY.values() for e in tenant if e["id"] in self.entities}


ALL_SEOUL = Seen({e["id"]: None for e in CITY["seoul"]})


@pytest.fixture
async def hub(settings: Settings, store: EntityStore) -> AsyncIterator[httpx.AsyncClient]:
    secure = settings.model_copy(update={"auth": "on", "policy_refresh": 0.0})
    transport = httpx.ASGITransport(app=create_app(secure, store))
    async with httpx.AsyncClient(transport=transport, base_url="http://dosi.test/ngsi-ld/v1") as http:
        yield http


async def build_city(http: httpx.AsyncClient, admin: str) -> None:
    for tenant, entities in CITY.items():
        answer = await http.post("/entityOperations/create", json=entities, headers=keyed(admin, tenant))
        assert answer.status_code == 201, answer.text


async def policy(http: httpx.AsyncClient, admin: str, **doc: Any) -> dict[str, Any]:
    answer = await http.post(POLICIES, json=doc, headers=keyed(admin))
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def key_id(key: str) -> str:
    return key.split("_")[1]


async def read_everything(http: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    """Every read endpoint's answer for these credentials (status code, or the body when 200)."""
    answers: dict[str, Any] = {}
    ids = [e["id"] for tenant in CITY.values() for e in tenant]
    asks = {
        "query": http.get("/entities", params={"type": "ParkingSpot,HouseholdEnergy", "limit": 100}, headers=headers),
        "post-query": http.post(
            "/entityOperations/query",
            json={"type": "Query", "entities": [{"type": "ParkingSpot"}, {"type": "HouseholdEnergy"}]},
            headers=headers,
        ),
        "temporal": http.get(
            "/temporal/entities",
            params={
                "type": "ParkingSpot,HouseholdEnergy",
                "timerel": "after",
                "timeAt": "2000-01-01T00:00:00Z",
                "timeproperty": "modifiedAt",
            },
            headers=headers,
        ),  # fmt: skip
        "types": http.get("/types", headers=headers),
        "attributes": http.get("/attributes", headers=headers),
        **{f"get {i}": http.get(f"/entities/{i}", headers=headers) for i in ids},
    }
    for name, pending in asks.items():
        answer = await pending
        if answer.status_code != 200:
            assert answer.headers["content-type"].startswith("application/json")
            assert answer.json()["type"].startswith(("urn:dosi:error:", "https://uri.etsi.org/ngsi-ld/errors/"))
            answers[name] = answer.status_code
        else:
            answers[name] = answer.json()
    return answers


def attributes_of(entity: dict[str, Any]) -> set[str]:
    return {k for k in entity if k not in ("id", "type", "scope", "@context", "createdAt", "modifiedAt")}


def check_sees(answers: dict[str, Any], seen: Seen) -> None:
    """Each answer shows exactly what `seen` allows."""
    for name in ("query", "post-query", "temporal"):
        listed = answers[name]
        assert isinstance(listed, list), (name, listed)
        assert {e["id"] for e in listed} == set(seen.entities), name
        for entity in listed:
            allowed = seen.entities[entity["id"]]
            if allowed is not None:
                assert attributes_of(entity) <= allowed, (name, entity)
    for entity_id, allowed in seen.entities.items():
        entity = answers[f"get {entity_id}"]
        assert isinstance(entity, dict), (entity_id, entity)
        if allowed is not None:
            assert attributes_of(entity) == allowed, entity
    hidden = [k for k in answers if k.startswith("get ") and k[4:] not in seen.entities]
    assert all(answers[k] == 404 for k in hidden), {k: answers[k] for k in hidden}
    assert set(answers["types"]["typeList"]) == seen.types()
    shown_attrs = set().union(
        *(
            allowed if allowed is not None else attributes_of(e)
            for e in CITY["seoul"] + CITY["busan"]
            for i, allowed in seen.entities.items()
            if e["id"] == i
        )  # fmt: skip
    )
    assert set(answers["attributes"]["attributeList"]) == shown_attrs


async def test_role_tenant_and_policy_matrix(hub: httpx.AsyncClient, store: EntityStore) -> None:
    admin = await make_key(store, ["admin"])
    await build_city(hub, admin)
    gangnam_app = await make_key(store, [], ["seoul"])
    researcher = await make_key(store, [], ["seoul"])
    lapsed = await make_key(store, [], ["seoul"])
    await policy(hub, admin, subject=f"key:{key_id(gangnam_app)}", actions=["read", "subscribe"],
                 tenant="seoul", types=["ParkingSpot"], scopes=["/Seoul/Gangnam"])  # fmt: skip
    await policy(hub, admin, subject=f"key:{key_id(researcher)}", actions=["read"], tenant="seoul",
                 types=["HouseholdEnergy"], attributes=["consumption"], purpose="research",
                 validUntil=FUTURE)  # fmt: skip
    await policy(hub, admin, subject=f"key:{key_id(lapsed)}", actions=["read"], tenant="seoul", validUntil=PAST)
    await policy(hub, admin, subject="role:public", actions=["read"], tenant="seoul", idPattern="ParkingSpot")
    cases: dict[str, tuple[dict[str, str], Seen | int]] = {
        "admin": (keyed(admin, "seoul"), ALL_SEOUL),
        "operator": (keyed(await make_key(store, ["operator"], ["seoul"]), "seoul"), ALL_SEOUL),
        "consumer": (keyed(await make_key(store, ["consumer"], ["seoul"]), "seoul"), ALL_SEOUL),
        "public (narrowed to parking in seoul)": (
            keyed(await make_key(store, ["public"], ["seoul"]), "seoul"),
            Seen(dict.fromkeys(SPOTS)),
        ),
        "gangnam app (a dataset)": (keyed(gangnam_app, "seoul"), Seen({"urn:ngsi-ld:ParkingSpot:gangnam-1": None})),
        "researcher with purpose": (
            {**keyed(researcher, "seoul"), "Dosi-Purpose": "research"},
            Seen({HOME["id"]: {"consumption"}}),
        ),
        "researcher without purpose": (keyed(researcher, "seoul"), 403),
        "lapsed policy": (keyed(lapsed, "seoul"), 403),
        "other tenant's operator": (keyed(await make_key(store, ["operator"], ["busan"]), "seoul"), 403),
        "no credentials": ({"NGSILD-Tenant": "seoul"}, 401),
    }
    for name, (headers, expected) in cases.items():
        answers = await read_everything(hub, headers)
        if isinstance(expected, int):
            assert set(answers.values()) == {expected}, (name, answers)
        else:
            check_sees(answers, expected)
    # the public role is narrowed in seoul only: in busan it still reads everything
    busan_public = await make_key(store, ["public"], ["busan"])
    found = await hub.get("/entities", params={"type": "ParkingSpot"}, headers=keyed(busan_public, "busan"))
    assert [e["id"] for e in found.json()] == ["urn:ngsi-ld:ParkingSpot:haeundae-1"]


async def test_a_filter_cannot_reveal_a_hidden_attribute(hub: httpx.AsyncClient, store: EntityStore) -> None:
    admin = await make_key(store, ["admin"])
    await build_city(hub, admin)
    researcher = await make_key(store, [], ["seoul"])
    await policy(hub, admin, subject=f"key:{key_id(researcher)}", actions=["read"], tenant="seoul",
                 types=["HouseholdEnergy"], attributes=["consumption"])  # fmt: skip
    headers = keyed(researcher, "seoul")
    allowed = await hub.get("/entities", params={"type": "HouseholdEnergy", "q": "consumption>400"}, headers=headers)
    assert [e["id"] for e in allowed.json()] == [HOME["id"]]
    for params in (
        {"type": "HouseholdEnergy", "q": 'address=="12 Jong-ro"'},
        {"type": "HouseholdEnergy", "attrs": "address"},
        {"type": "HouseholdEnergy", "orderBy": "address"},
    ):
        denied = await hub.get("/entities", params=params, headers=headers)
        assert denied.status_code == 403 and denied.json()["type"] == "urn:dosi:error:Forbidden", params


async def test_writes_are_decided_entity_by_entity(hub: httpx.AsyncClient, store: EntityStore) -> None:
    admin = await make_key(store, ["admin"])
    await build_city(hub, admin)
    device = await make_key(store, [], ["seoul"])
    await policy(hub, admin, subject=f"key:{key_id(device)}", actions=["read", "create", "update"],
                 tenant="seoul", types=["ParkingSpot"], idPattern="^urn:ngsi-ld:ParkingSpot:gangnam-",
                 attributes=["status"])  # fmt: skip
    headers = keyed(device, "seoul")
    mine = "urn:ngsi-ld:ParkingSpot:gangnam-1"
    patch = await hub.patch(f"/entities/{mine}/attrs", json={"status": {"type": "Property", "value": "occupied"}},
                            headers=headers)  # fmt: skip
    assert patch.status_code == 204, patch.text
    renamed = await hub.patch(f"/entities/{mine}/attrs", json={"name": {"type": "Property", "value": "x"}},
                              headers=headers)  # fmt: skip
    assert renamed.status_code == 403
    free = {"type": "Property", "value": "free"}
    batch = [
        {"id": "urn:ngsi-ld:ParkingSpot:gangnam-2", "type": "ParkingSpot", "status": free},
        {"id": "urn:ngsi-ld:ParkingSpot:jongno-2", "type": "ParkingSpot", "status": free},
        {"id": "urn:ngsi-ld:ParkingSpot:gangnam-3", "type": "ParkingSpot", "name": {"type": "Property", "value": "x"}},
    ]
    answer = await hub.post("/entityOperations/upsert", json=batch, headers=headers)
    assert answer.status_code == 207, answer.text
    body = answer.json()
    assert body["success"] == ["urn:ngsi-ld:ParkingSpot:gangnam-2"]
    assert {e["entityId"]: e["error"]["status"] for e in body["errors"]} == {
        "urn:ngsi-ld:ParkingSpot:jongno-2": 403,
        "urn:ngsi-ld:ParkingSpot:gangnam-3": 403,
    }
    assert (await hub.delete(f"/entities/{mine}", headers=headers)).status_code == 403
    # nothing of a refused entity was written; the allowed change was
    stored = await store.get("seoul", mine)
    assert stored is not None and stored["attrs"][next(k for k in stored["attrs"] if k.endswith("name"))]
    for refused in ("urn:ngsi-ld:ParkingSpot:jongno-2", "urn:ngsi-ld:ParkingSpot:gangnam-3"):
        assert await store.get("seoul", refused) is None
    rows = await store.history("seoul", [mine], None, TimeWindow())
    assert sorted((r.attr.rsplit("/", 1)[-1], r.doc["value"]) for r in rows) == [
        ("name", "gangnam-1"),
        ("scope", ["/Seoul/Gangnam"]),
        ("status", "free"),
        ("status", "occupied"),
    ]


async def test_subscriptions_belong_to_their_owner_and_notify_only_what_it_reads(
    hub: httpx.AsyncClient, store: EntityStore
) -> None:
    admin = await make_key(store, ["admin"])
    await build_city(hub, admin)
    app = await make_key(store, [], ["seoul"])
    await policy(hub, admin, subject=f"key:{key_id(app)}", actions=["read", "subscribe"], tenant="seoul",
                 types=["ParkingSpot"], scopes=["/Seoul/Gangnam"], attributes=["status"])  # fmt: skip
    other = await make_key(store, ["consumer"], ["seoul"])
    operator = await make_key(store, ["operator"], ["seoul"])
    sub = {"type": "Subscription", "entities": [{"type": "ParkingSpot"}],
           "notification": {"endpoint": {"uri": "http://receiver.example/notify"}}}  # fmt: skip
    made = await hub.post("/subscriptions", json=sub, headers=keyed(app, "seoul"))
    assert made.status_code == 201, made.text
    location = made.headers["Location"].rsplit("/", 1)[-1]
    assert (await hub.get(f"/subscriptions/{location}", headers=keyed(app, "seoul"))).status_code == 200
    assert (await hub.get(f"/subscriptions/{location}", headers=keyed(other, "seoul"))).status_code == 404
    assert (await hub.get("/subscriptions", headers=keyed(other, "seoul"))).json() == []
    assert (await hub.delete(f"/subscriptions/{location}", headers=keyed(other, "seoul"))).status_code == 404
    listed = (await hub.get("/subscriptions", headers=keyed(operator, "seoul"))).json()
    assert [s["id"] for s in listed] == [location] and "_owner" not in listed[0]
    # changes: a spot outside its dataset, a hidden attribute of its spot, a visible one of its spot
    changes = [
        ("urn:ngsi-ld:ParkingSpot:jongno-1", {"status": {"type": "Property", "value": "occupied"}}),
        ("urn:ngsi-ld:ParkingSpot:gangnam-1", {"name": {"type": "Property", "value": "renamed"}}),
        ("urn:ngsi-ld:ParkingSpot:gangnam-1", {"status": {"type": "Property", "value": "occupied"}}),
    ]
    for entity_id, attrs in changes:
        changed = await hub.patch(f"/entities/{entity_id}/attrs", json=attrs, headers=keyed(admin, "seoul"))
        assert changed.status_code == 204
    rows = await store.claim_outbox(time.time() + 1, 60, 100, now_iso())
    bodies = [json.loads(r.payload) for r in rows if r.subscription_id == location]
    data = [item for body in bodies for item in body["data"]]
    assert [(d["id"], attributes_of(d)) for d in data] == [("urn:ngsi-ld:ParkingSpot:gangnam-1", {"status"})]
    # a revoked key's subscriptions fall silent
    await store.revoke_api_key(key_id(app), now_iso())
    again = await hub.patch("/entities/urn:ngsi-ld:ParkingSpot:gangnam-1/attrs", headers=keyed(admin, "seoul"),
                            json={"status": {"type": "Property", "value": "free"}})  # fmt: skip
    assert again.status_code == 204
    later = await store.claim_outbox(time.time() + 1, 60, 100, now_iso())
    assert [r for r in later if r.subscription_id == location] == []


async def test_policy_api_checks_its_input(hub: httpx.AsyncClient, store: EntityStore) -> None:
    admin = await make_key(store, ["admin"])
    operator = await make_key(store, ["operator"])
    good = {"subject": "role:consumer", "actions": ["read"], "types": ["ParkingSpot"]}
    assert (await hub.post(POLICIES, json=good, headers=keyed(operator))).status_code == 403
    for bad in (
        {**good, "subject": "nobody"},
        {**good, "subject": "role:admin"},
        {**good, "actions": ["fly"]},
        {**good, "actions": ["admin"]},
        {**good, "idPattern": "(unclosed"},
        {**good, "scopes": ["Seoul"]},
        {**good, "validFrom": "2027-01-01T00:00:00Z", "validUntil": "2026-01-01T00:00:00Z"},
        {**good, "validUntil": "tomorrow"},
        {**good, "colour": "red"},
        [good],
    ):
        answer = await hub.post(POLICIES, json=bad, headers=keyed(admin))
        assert answer.status_code == 400 and answer.json()["type"].endswith("BadRequestData"), bad
    made = await policy(hub, admin, **good)
    # a registered model's type means the model's IRI and the default vocabulary's (entities written without
    # the model's @context have the latter)
    assert made["types"] == ["https://smartdatamodels.org/dataModel.Parking/ParkingSpot",
                             "https://uri.etsi.org/ngsi-ld/default-context/ParkingSpot"]  # fmt: skip
    path = f"{POLICIES}/{made['id']}"
    assert (await hub.get(path, headers=keyed(admin))).json() == made
    replaced = await hub.put(path, json={**good, "types": ["Streetlight"]}, headers=keyed(admin))
    assert replaced.status_code == 204
    assert (await hub.get(path, headers=keyed(admin))).json()["types"][0].endswith("Streetlight")
    seoul_admin = await make_key(store, ["admin"], ["seoul"])
    assert (await hub.post(POLICIES, json=good, headers=keyed(seoul_admin, "seoul"))).status_code == 403
    assert (await hub.get(POLICIES, headers=keyed(seoul_admin, "seoul"))).json() == []  # not one of its tenants
    assert (await hub.delete(path, headers=keyed(admin))).status_code == 204
    assert (await hub.get(path, headers=keyed(admin))).status_code == 404


async def test_restricted_reads_are_audited(hub: httpx.AsyncClient, store: EntityStore) -> None:
    admin = await make_key(store, ["admin"])
    await build_city(hub, admin)
    researcher = await make_key(store, [], ["seoul"])
    await policy(hub, admin, subject=f"key:{key_id(researcher)}", actions=["read"], tenant="seoul",
                 types=["HouseholdEnergy"], purpose="research")  # fmt: skip
    known = len(await store.audit_log(0, 100_000))
    headers = {**keyed(researcher, "seoul"), "Dosi-Purpose": "research"}
    assert (await hub.get("/entities", params={"type": "HouseholdEnergy"}, headers=headers)).status_code == 200
    await hub.get("/entities", params={"type": "ParkingSpot"}, headers=keyed(admin, "seoul"))  # not restricted
    docs = [json.loads(doc) for _, doc, _ in (await store.audit_log(0, 100_000))[known:]]
    assert [(d["action"], d["purpose"], d["rows"], d["subject"]) for d in docs] == [
        ("read", "research", 1, key_id(researcher))
    ]


async def test_a_device_pushes_only_what_its_policy_allows(hub: httpx.AsyncClient, store: EntityStore) -> None:
    admin = await make_key(store, ["admin"])
    await store.put_source("meters", 'name = "meters"\nkind = "http"\ntenant = "seoul"\nvalidation = "off"\n'
                           '[mapping]\ntype = "Meter"\nid = "urn:ngsi-ld:Meter:{m}"\n[mapping.attributes]\n'
                           'reading = "r"\n', "2026-12-05T00:00:00Z")  # fmt: skip
    device = await make_key(store, [], ["seoul"])
    await policy(hub, admin, subject=f"key:{key_id(device)}", actions=["create", "update"], tenant="seoul",
                 types=["Meter"], idPattern=":Meter:jongno-")  # fmt: skip
    body = b'[{"m": "jongno-1", "r": 5}, {"m": "gangnam-1", "r": 7}]'
    answer = await hub.post("http://dosi.test/dosi/v1/ingest/meters", content=body, headers=keyed(device, "seoul"))
    assert answer.status_code == 207, answer.text
    assert answer.json()["stored"] == 1 and "may not create" in answer.json()["rejected"][0]["reason"]
    assert await store.get("seoul", "urn:ngsi-ld:Meter:jongno-1") is not None
    assert await store.get("seoul", "urn:ngsi-ld:Meter:gangnam-1") is None
    logged = await store.rejections("meters", 0, 10, pending=True)
    assert len(logged) == 1 and "gangnam-1" in logged[0].payload


def test_policies_from_the_command_line(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    runner = CliRunner()
    made = runner.invoke(main, ["policies", "add", "--subject", "role:public", "--action", "read", "--tenant",
                                "seoul", "--scope", "/Seoul/Gangnam", "--database-url", url])  # fmt: skip
    assert made.exit_code == 0, made.output
    policy_id = json.loads(made.output)["id"]
    listed = runner.invoke(main, ["policies", "list", "--database-url", url])
    assert policy_id in listed.output and "/Seoul/Gangnam" in listed.output
    bad = runner.invoke(main, ["policies", "add", "--subject", "role:admin", "--action", "read", "--database-url", url])
    assert bad.exit_code == 1 and "admin" in bad.output
    assert runner.invoke(main, ["policies", "remove", policy_id, "--database-url", url]).exit_code == 0
    assert runner.invoke(main, ["policies", "show", policy_id, "--database-url", url]).exit_code == 1
