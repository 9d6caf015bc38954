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
