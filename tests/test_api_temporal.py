"""The temporal API on both backends: history from ordinary writes and from temporal provision."""

from __future__ import annotations

import httpx

BUS = {
    "id": "urn:ngsi-ld:Bus:7",
    "type": "Bus",
    "speed": [
        {"type": "Property", "value": 120, "observedAt": "2020-08-01T12:03:00Z"},
        {"type": "Property", "value": 80, "observedAt": "2020-08-01T12:05:00Z"},
        {"type": "Property", "value": 100, "observedAt": "2020-08-01T12:07:00Z"},
    ],
    "fuel": [{"type": "Property", "value": 67, "observedAt": "2020-08-01T12:03:00Z"}],
}


async def test_temporal_create_upsert_and_retrieve(client: httpx.AsyncClient) -> None:
    assert (await client.post("/temporal/entities", json=BUS)).status_code == 201
    again = {
        "id": BUS["id"],
        "type": "Bus",
        "speed": [{"type": "Property", "value": 121, "observedAt": "2020-08-01T12:03:00Z"}],
    }
    assert (await client.post("/temporal/entities", json=again)).status_code == 204
    got = (await client.get(f"/temporal/entities/{BUS['id']}")).json()
    assert [i["value"] for i in got["speed"]] == [121, 80, 100]  # upserted on observedAt, oldest first
    assert all(i["instanceId"].startswith("urn:ngsi-ld:Instance:") for i in got["speed"])
    before = await client.get(
        f"/temporal/entities/{BUS['id']}", params={"timerel": "before", "timeAt": "2020-08-01T12:05:00Z"}
    )
    assert [i["value"] for i in before.json()["speed"]] == [121]
    between = await client.get(
        f"/temporal/entities/{BUS['id']}",
        params={"timerel": "between", "timeAt": "2020-08-01T12:05:00Z", "endTimeAt": "2020-08-01T12:07:00Z"},
    )
    assert [i["value"] for i in between.json()["speed"]] == [80] and "fuel" not in between.json()
    last = await client.get(f"/temporal/entities/{BUS['id']}", params={"lastN": "2", "attrs": "speed"})
    assert sorted(i["value"] for i in last.json()["speed"]) == [80, 100]
    values = await client.get(f"/temporal/entities/{BUS['id']}", params={"options": "temporalValues"})
    assert values.json()["speed"] == {
        "type": "Property",
        "values": [[121, "2020-08-01T12:03:00Z"], [80, "2020-08-01T12:05:00Z"], [100, "2020-08-01T12:07:00Z"]],
    }


async def test_aggregation_runs_in_sql(client: httpx.AsyncClient) -> None:
    await client.post("/temporal/entities", json=BUS)
    got = await client.get(
        f"/temporal/entities/{BUS['id']}",
        params={
            "options": "aggregatedValues",
            "aggrMethods": "avg,max,totalCount",
            "aggrPeriodDuration": "PT1H",
            "attrs": "speed",
        },
    )
    speed = got.json()["speed"]
    assert speed["avg"] == [[100.0, "2020-08-01T12:03:00Z", "2020-08-01T13:03:00Z"]]
    assert speed["max"][0][0] == 120.0 and speed["totalCount"][0][0] == 3


async def test_ordinary_writes_make_history(client: httpx.AsyncClient) -> None:
    eid = "urn:ngsi-ld:Sensor:h"
    await client.post(
        "/entities",
        json={
            "id": eid,
            "type": "Sensor",
            "pm25": {"type": "Property", "value": 10, "observedAt": "2026-01-01T00:00:00Z"},
        },
    )
    await client.patch(
        f"/entities/{eid}/attrs", json={"pm25": {"type": "Property", "value": 12, "observedAt": "2026-01-01T01:00:00Z"}}
    )
    await client.delete(f"/entities/{eid}/attrs/pm25")
    got = (await client.get(f"/temporal/entities/{eid}")).json()
    assert [i["value"] for i in got["pm25"]] == [10, 12, "urn:ngsi-ld:null"]
    query = await client.get(
        "/temporal/entities", params={"type": "Sensor", "timerel": "after", "timeAt": "2026-01-01T00:30:00Z"}
    )
    assert [i["value"] for i in query.json()[0]["pm25"]] == [12]
    await client.delete(f"/entities/{eid}")
    assert (await client.get(f"/temporal/entities/{eid}")).status_code == 404  # history goes with the entity


async def test_paging_cuts_with_content_range(client: httpx.AsyncClient) -> None:
    many = {
        "id": "urn:ngsi-ld:Bus:many",
        "type": "Bus",
        "speed": [{"type": "Property", "value": i, "observedAt": f"2020-01-01T01:{i:02d}:00Z"} for i in range(45)],
    }
    await client.post("/temporal/entities", json=many)
    got = await client.get("/temporal/entities/urn:ngsi-ld:Bus:many")
    assert got.status_code == 206 and len(got.json()["speed"]) == 30
    assert got.headers["content-range"] == "date-time 2020-01-01T01:00:00Z-2020-01-01T01:29:00Z/*"


async def test_instance_operations_and_errors(client: httpx.AsyncClient) -> None:
    await client.post("/temporal/entities", json=BUS)
    first = (await client.get(f"/temporal/entities/{BUS['id']}")).json()["speed"][0]["instanceId"]
    patched = await client.patch(
        f"/temporal/entities/{BUS['id']}/attrs/speed/{first}",
        json={"type": "Property", "value": 129, "observedAt": "2020-08-01T12:03:00Z"},
    )
    assert patched.status_code == 204
    got = (await client.get(f"/temporal/entities/{BUS['id']}")).json()["speed"][0]
    assert got == {"type": "Property", "value": 129, "observedAt": "2020-08-01T12:03:00Z", "instanceId": first}
    assert (await client.delete(f"/temporal/entities/{BUS['id']}/attrs/speed/{first}")).status_code == 204
    assert (await client.delete(f"/temporal/entities/{BUS['id']}/attrs/speed/{first}")).status_code == 404
    assert (await client.get("/temporal/entities/notauri")).status_code == 400
    bad = await client.get(f"/temporal/entities/{BUS['id']}", params={"timerel": "after"})
    assert bad.status_code == 400
    assert (await client.delete(f"/temporal/entities/{BUS['id']}")).status_code == 204
    assert (await client.get(f"/temporal/entities/{BUS['id']}")).status_code == 404


def _bus(number: int, speeds: list[int], where: list[float], scope: str) -> dict:  # type: ignore[type-arg]
    return {
        "id": f"urn:ngsi-ld:Bus:{number}",
        "type": "Bus",
        "scope": scope,
        "speed": [
            {"type": "Property", "value": v, "observedAt": f"2020-08-01T12:0{i}:00Z"} for i, v in enumerate(speeds)
        ],
        "location": [{"type": "GeoProperty", "value": {"type": "Point", "coordinates": where}}],
    }


async def _ids(client: httpx.AsyncClient, **params: str) -> list[str]:
    got = await client.get("/temporal/entities", params={"type": "Bus", **params})
    assert got.status_code == 200, got.text
    return [e["id"] for e in got.json()]


async def test_entity_filters_run_over_the_history(client: httpx.AsyncClient) -> None:
    await client.post("/temporal/entities", json=_bus(1, [10, 90], [126.97, 37.56], "/Seoul/Jongno"))
    await client.post("/temporal/entities", json=_bus(2, [40, 50], [129.07, 35.18], "/Busan"))
    # q holds when some instance in the window satisfies it
    assert await _ids(client, q="speed>80") == ["urn:ngsi-ld:Bus:1"]
    assert await _ids(client, q="speed>80", timerel="before", timeAt="2020-08-01T12:01:00Z") == []
    assert await _ids(client, q="speed==40|speed==10") == ["urn:ngsi-ld:Bus:1", "urn:ngsi-ld:Bus:2"]
    assert await _ids(client, scopeQ="/Seoul/#") == ["urn:ngsi-ld:Bus:1"]
    near_busan = {"georel": "near;maxDistance==5000", "geometry": "Point", "coordinates": "[129.06,35.18]"}
    assert await _ids(client, **near_busan) == ["urn:ngsi-ld:Bus:2"]
    assert await _ids(client, orderBy="id;desc") == ["urn:ngsi-ld:Bus:2", "urn:ngsi-ld:Bus:1"]
    assert await _ids(client, orderBy="speed") == ["urn:ngsi-ld:Bus:2", "urn:ngsi-ld:Bus:1"]  # latest: 50 < 90
    counted = await client.get("/temporal/entities", params={"type": "Bus", "q": "speed>85", "count": "true"})
    assert counted.headers["NGSILD-Results-Count"] == "1"


async def test_temporal_provision_moves_the_entity_forward(client: httpx.AsyncClient) -> None:
    await client.post("/temporal/entities", json=_bus(3, [10, 30], [126.9, 37.5], "/Seoul"))
    current = (await client.get("/entities/urn:ngsi-ld:Bus:3")).json()
    assert current["speed"]["value"] == 30 and current["scope"] == "/Seoul"
    older = {"type": "Property", "value": 5, "observedAt": "2019-01-01T00:00:00Z"}
    await client.post("/temporal/entities/urn:ngsi-ld:Bus:3/attrs", json={"speed": [older]})
    assert (await client.get("/entities/urn:ngsi-ld:Bus:3")).json()["speed"]["value"] == 30  # history only
    assert (await client.delete("/entities/urn:ngsi-ld:Bus:3/attrs/speed")).status_code == 204
    assert (await client.delete("/entities/urn:ngsi-ld:Bus:3/attrs/scope")).status_code == 204
    deleted = (await client.get("/temporal/entities/urn:ngsi-ld:Bus:3", params={"timeproperty": "deletedAt"})).json()
    assert deleted["speed"][0]["value"] == "urn:ngsi-ld:null" and "deletedAt" in deleted["speed"][0]
    assert deleted["scope"][0]["value"] == [] and "deletedAt" in deleted["scope"][0]
