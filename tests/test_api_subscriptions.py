"""Subscriptions: the resource itself (create, retrieve, list, update, delete) on both backends."""

from __future__ import annotations

import httpx
import pytest

SUB = {
    "id": "urn:ngsi-ld:Subscription:pm",
    "type": "Subscription",
    "entities": [{"type": "AirQualityObserved"}],
    "watchedAttributes": ["pm25"],
    "q": "pm25>35",
    "notification": {
        "endpoint": {"uri": "http://alerts.city.example/pm", "accept": "application/json"},
        "attributes": ["pm25"],
        "format": "keyValues",
    },
}


async def test_subscription_lifecycle(client: httpx.AsyncClient) -> None:
    created = await client.post("/subscriptions", json=SUB)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/ngsi-ld/v1/subscriptions/urn:ngsi-ld:Subscription:pm"
    got = (await client.get("/subscriptions/urn:ngsi-ld:Subscription:pm")).json()
    assert got["entities"] == [{"type": "AirQualityObserved"}]
    assert got["watchedAttributes"] == ["pm25"] and got["notification"]["attributes"] == ["pm25"]
    assert got["status"] == "active" and "isActive" not in got and "jsonldContext" not in got
    assert (await client.post("/subscriptions", json=SUB)).status_code == 409
    paused = await client.patch("/subscriptions/urn:ngsi-ld:Subscription:pm", json={"isActive": False})
    assert paused.status_code == 204
    got = (await client.get("/subscriptions/urn:ngsi-ld:Subscription:pm")).json()
    assert got["status"] == "paused" and got["q"] == "pm25>35"
    listed = await client.get("/subscriptions", params={"count": "true"})
    assert listed.headers["ngsild-results-count"] == "1" and len(listed.json()) == 1
    assert (await client.delete("/subscriptions/urn:ngsi-ld:Subscription:pm")).status_code == 204
    assert (await client.get("/subscriptions/urn:ngsi-ld:Subscription:pm")).status_code == 404


@pytest.mark.parametrize(
    "change",
    [
        {"type": "NotASubscription"},
        {"entities": [{"id": "urn:x:1"}]},
        {"watchedAttributes": []},
        {"timeInterval": 10},
        {"throttling": -1},
        {"q": "pm25>>"},
        {"expiresAt": "2001-01-01T00:00:00Z"},
        {"notification": {"endpoint": {"uri": "ftp://x.example/a"}}},
        {"notification": {"endpoint": {"uri": "http://x.example/a", "accept": "text/plain"}}},
        {"notificationTrigger": ["whenever"]},
        {"geoQ": {"georel": "near", "geometry": "Point", "coordinates": [1, 2]}},
    ],
)
async def test_invalid_subscriptions_are_refused(client: httpx.AsyncClient, change: dict) -> None:
    answer = await client.post("/subscriptions", json={**SUB, **change})
    assert answer.status_code == 400, answer.text
    assert answer.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
    assert (await client.get("/subscriptions")).json() == []


async def test_loopback_endpoint_needs_permission(client: httpx.AsyncClient) -> None:
    for uri in ("http://127.0.0.1:8080/x", "http://localhost/x", "http://[::1]/x", "http://10.0.0.8/x"):
        body = {**SUB, "notification": {"endpoint": {"uri": uri}}}
        answer = await client.post("/subscriptions", json=body)
        assert answer.status_code == 400, uri
        assert "DOSI_OUTBOUND_ALLOW" in answer.json()["detail"]


async def test_inline_context_is_hosted_implicitly(client: httpx.AsyncClient) -> None:
    ctx = [{"AirQualityObserved": "https://smartdatamodels.org/dataModel.Environment/AirQualityObserved"}]
    body = {**SUB, "@context": ctx}
    created = await client.post("/subscriptions", json=body, headers={"Content-Type": "application/ld+json"})
    assert created.status_code == 201
    got = (await client.get("/subscriptions/urn:ngsi-ld:Subscription:pm")).json()
    assert got["entities"] == [{"type": "https://smartdatamodels.org/dataModel.Environment/AirQualityObserved"}]
    local_id = got["jsonldContext"].rsplit("/", 1)[1]
    served = await client.get(f"/jsonldContexts/{local_id}", params={"details": "true"})
    assert served.json()["kind"] == "ImplicitlyCreated"
