"""Scenarios S1-S11 against a real `dosi serve`, each recorded beside its ceiling."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench import ceilings, datagen, mqtt, paced, report, server, wrk
from bench.pg import run_sql

API = "/ngsi-ld/v1"
PROBES = 50  # S8 updates these sensors in turn: a city's updates come from many sensors, not one
S8_RATE = 500  # S8's updates per second


@dataclass
class Size:
    name: str
    entities: int  # the city loaded for S3-S6 and S10
    instances: int  # S7: instances in all, spread over `stations`
    seconds: float  # duration of each load run
    deep_offset: int  # S6's offset
    stations: int  # S7 spreads `instances` over this many stations
    mqtt_messages: int  # S9's readings, over `stations` parking sensors


SIZES = {
    "smoke": Size("smoke", 4000, instances=20_000, seconds=2, deep_offset=800, stations=20, mqtt_messages=2000),
    "medium": Size("medium", 100_000, 100_000, seconds=5, deep_offset=20_000, stations=100, mqtt_messages=20_000),
    "full": Size("full", 1_000_000, 1_000_000, seconds=10, deep_offset=500_000, stations=1000, mqtt_messages=100_000),
}


@dataclass
class Result:
    scenario: str
    title: str
    value: float | None
    unit: str
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    ceiling: str | None = None
    ceiling_value: float | None = None
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    notes: str = ""
    client_cpu_cores: float | None = None

    def record(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


@dataclass
class Run:
    backend: str
    database_url: str
    size: Size
    workers: int
    ceilings: dict[str, float] = field(default_factory=dict)
    results: list[Result] = field(default_factory=list)
    dosi: server.Server | None = None

    @property
    def base(self) -> str:
        assert self.dosi is not None
        return self.dosi.base

    def add(self, result: Result) -> Result:
        self.results.append(result)
        shown = "n/a" if result.value is None else f"{result.value:,.1f} {result.unit}"
        ratio = ""
        if result.ratio is not None and result.ceiling:
            ratio = f" ({report.compared(result.ceiling, result.ratio)})"
        verdict = {True: "met", False: "MISSED", None: "-"}[result.met]
        print(f"  {result.scenario:4} {result.title:44} {shown}{ratio}  target {result.target or '-'}: {verdict}")
        return result

    def ratio(self, value: float, ceiling: str) -> tuple[float | None, float | None]:
        """The ceiling's value and `value` over it: a share of a rate ceiling, or a multiple of a floor (a time or
        a memory size that the machine takes with no work done)."""
        bound = self.ceilings.get(ceiling)
        return bound, (value / bound if bound else None)

    def loaded(
        self, code: str, title: str, load: wrk.Load, *, value: float | None = None, unit: str = "req/s",
        ceiling: str | None = None, compared: float | None = None, target: str = "", met: bool = False,
        notes: str = "",
    ) -> Result:  # fmt: skip
        """Record a wrk run: its rate (or `value`), latencies, and the ceiling that `compared` (else the value) is
        compared with."""
        value = load.rate if value is None else value
        bound, ratio = self.ratio(value if compared is None else compared, ceiling) if ceiling else (None, None)
        notes = f"{load.errors} errors" + (f"; {notes}" if notes else "")
        return self.add(
            Result(
                code,
                title,
                value,
                unit,
                load.p50_ms,
                load.p95_ms,
                load.p99_ms,
                ceiling,
                bound,
                ratio,
                target,
                met and load.errors == 0,
                notes,
                load.client_share,
            )  # fmt: skip
        )

    def wrk(self, script: str, path: str, connections: int = 16, warm: bool = False, **env: str) -> wrk.Load:
        """A wrk run; `warm` runs the same load unrecorded first, a third as long (caches as in a serving hub)."""
        if warm:
            wrk.run(self.base + path, script, self.size.seconds / 3, connections=connections, env=env)
        return wrk.run(self.base + path, script, self.size.seconds, connections=connections, env=env)


def _paths(paths: list[str]) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(paths) + "\n")
    return f.name


def load_city(run: Run, count: int, batch: int = 1000, clients: int = 2) -> float:
    """Load the city through POST /entityOperations/upsert; entities/s of the whole load."""

    async def go() -> float:
        bodies = datagen.batches(count, batch)
        lock = asyncio.Lock()
        async with httpx.AsyncClient(base_url=run.base + API, timeout=600) as client:

            async def worker() -> None:
                while True:
                    async with lock:
                        chunk = next(bodies, None)
                    if chunk is None:
                        return
                    answer = await client.post(
                        "/entityOperations/upsert",
                        content=orjson.dumps(chunk),
                        headers={"Content-Type": "application/json"},
                    )
                    if answer.status_code not in (201, 204):
                        raise RuntimeError(f"upsert answered {answer.status_code}: {answer.text[:300]}")

            began = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(clients)))
            return count / (time.perf_counter() - began)

    return asyncio.run(go())


# -- S1, S2: writes --------------------------------------------------------
def s1_create(run: Run) -> Result:
    load = run.wrk("post_entity.lua", API + "/entities")
    share = load.rate / run.ceilings["http_post"] if run.ceilings.get("http_post") else 0.0
    if run.backend == "sqlite":
        target, met = "≥ 3,000/s and ≥ 25% of POST ceiling", load.rate >= 3000 and share >= 0.25
    else:
        target, met = "≥ 2,000/s", load.rate >= 2000
    one_row = f"one-row-commit ceiling {run.ceilings.get('db_commit_1row', 0):,.0f}/s"
    return run.loaded("S1", "create one entity per request (c16)", load, ceiling="http_post", target=target,
                      met=met, notes=one_row)  # fmt: skip


def s2_batch(run: Run) -> Result:
    folder = tempfile.mkdtemp()
    files = []
    for number, chunk in enumerate(datagen.batches(20_000, 1000, seed=99)):
        name = os.path.join(folder, f"batch-{number}.json")
        with open(name, "wb") as f:
            f.write(orjson.dumps(chunk))
        files.append(name)
    load = run.wrk("post_bodies.lua", API + "/entityOperations/upsert", connections=2,
                   BENCH_BODIES=_paths(files), BENCH_PATH=API + "/entityOperations/upsert")  # fmt: skip
    rate = load.rate * 1000
    share = rate / run.ceilings["db_batch_rows"] if run.ceilings.get("db_batch_rows") else 0.0
    if run.backend == "sqlite":
        target, met = "≥ 50,000 entities/s", rate >= 50_000
    else:
        target, met = "≥ 80% of raw COPY", share >= 0.8
    return run.loaded("S2", "batch upsert, 1,000 entities per request", load, value=rate, unit="entities/s",
                      ceiling="db_batch_rows", target=target, met=met)  # fmt: skip


# -- S3-S6: reads on the loaded city -----------------------------------------
def _sample_ids(run: Run, count: int, k: int) -> list[str]:
    rng = random.Random(5)
    return [datagen.entity_id(datagen.kind_of(n), n) for n in (rng.randrange(count) for _ in range(k))]


def s3_retrieve(run: Run) -> Result:
    ids = _sample_ids(run, run.size.entities, 10_000)
    load = run.wrk("get_paths.lua", "/", warm=True, BENCH_PATHS=_paths([f"{API}/entities/{i}" for i in ids]))
    share = load.rate / run.ceilings["http_get"] if run.ceilings.get("http_get") else 0.0
    if run.backend == "sqlite":
        target, met = "≥ 5,000/s and ≥ 30% of GET ceiling", load.rate >= 5000 and share >= 0.3
    else:
        target, met = "≥ 3,000/s", load.rate >= 3000
    return run.loaded("S3", "retrieve by id (c16)", load, ceiling="http_get", target=target, met=met)


def _latency(run: Run, code: str, title: str, paths: list[str], p50: float, p99: float | None) -> Result:
    load = run.wrk("get_paths.lua", "/", connections=4, warm=True, BENCH_PATHS=_paths(paths))
    met = load.p50_ms <= p50 and (p99 is None or load.p99_ms <= p99)
    target = f"p50 ≤ {p50:g} ms" + (f", p99 ≤ {p99:g} ms" if p99 else "")
    notes = f"c4; {run.size.entities:,} entities; the ratio is p50 ÷ an empty answer's p50"
    return run.loaded(code, title, load, ceiling="http_get_c4_p50_ms", compared=load.p50_ms, target=target, met=met,
                      notes=notes)  # fmt: skip


def s4_query(run: Run) -> Result:
    rng = random.Random(8)
    paths = [
        f"{API}/entities?type=AirQualityObserved&q=pm25>{rng.randint(20, 45)};pm10<{rng.randint(30, 70)}&limit=20"
        for _ in range(200)
    ]
    return _latency(run, "S4", "query by type + q", paths, 10, 50)


def s5_near(run: Run) -> Result:
    rng = random.Random(9)
    paths = []
    for _ in range(200):
        lon, lat = datagen.point(rng)
        paths.append(
            f"{API}/entities?type=ParkingSpot&georel=near;maxDistance==300&geometry=Point"
            f"&coordinates=[{lon},{lat}]&limit=20"
        )
    return _latency(run, "S5", "geo-query near (300 m)", paths, 20, None)


def s6_deep_page(run: Run) -> Result:
    per_type = run.size.entities // len(datagen.TYPES)
    offset = min(run.size.deep_offset, max(0, per_type - 20))
    first = run.wrk("get_paths.lua", "/", connections=1,
                    BENCH_PATHS=_paths([f"{API}/entities?type=ParkingSpot&limit=20&offset=0"]))  # fmt: skip
    deep = run.wrk("get_paths.lua", "/", connections=1,
                   BENCH_PATHS=_paths([f"{API}/entities?type=ParkingSpot&limit=20&offset={offset}"]))  # fmt: skip
    ratio = deep.p50_ms / first.p50_ms if first.p50_ms else None
    result = Result("S6", f"deep page (offset {offset:,}) vs offset 0", deep.p50_ms, "ms p50", deep.p50_ms,
                    deep.p95_ms, deep.p99_ms, ceiling="offset_0_p50_ms", ceiling_value=first.p50_ms, ratio=ratio,
                    target="within 2× of offset 0", met=ratio is not None and ratio <= 2.0,
                    notes="c1; the ratio is deep ÷ first page; one type holds a quarter of the city",
                    client_cpu_cores=deep.client_share)  # fmt: skip
    return run.add(result)


# -- S7: temporal aggregation ----------------------------------------------------
def s7_aggregate(run: Run) -> Result:
    """Hourly avg/min/max of every station of a type, over all their instances, in one temporal query."""
    stations, per_station = run.size.stations, run.size.instances // run.size.stations

    async def go() -> tuple[float, list[float], int, float | None]:
        async with httpx.AsyncClient(base_url=run.base + API, timeout=600) as client:
            began = time.perf_counter()
            for number in range(stations):
                readings = list(datagen.readings(per_station, seed=number))
                station = {"id": f"urn:ngsi-ld:NoiseLevelObserved:bench-{number:04d}", "type": "NoiseLevelObserved",
                           "LAeq": readings}  # fmt: skip
                created = await client.post("/temporal/entities", json=station)
                if created.status_code not in (201, 204):
                    raise RuntimeError(f"temporal create answered {created.status_code}: {created.text[:300]}")
            load_rate = stations * per_station / (time.perf_counter() - began)
            params = {"type": "NoiseLevelObserved", "attrs": "LAeq", "options": "aggregatedValues",
                      "aggrMethods": "avg,min,max", "aggrPeriodDuration": "PT1H", "limit": str(stations)}  # fmt: skip

            async def aggregate() -> tuple[float, int]:
                began = time.perf_counter()
                answer = await client.get("/temporal/entities", params=params)
                if answer.status_code != 200:
                    raise RuntimeError(f"aggregation answered {answer.status_code}: {answer.text[:300]}")
                return time.perf_counter() - began, sum(len(e["LAeq"]["avg"]) for e in answer.json())

            unvacuumed = None
            if run.backend == "postgres":
                # what autovacuum does within a minute or two of a bulk load (it is off on this machine): statistics,
                # and the visibility map that lets the history's index answer alone; the first query is timed before
                await run_sql(run.database_url, "ANALYZE")
                unvacuumed = (await aggregate())[0]
                await run_sql(run.database_url, "VACUUM ANALYZE")
            times, buckets = [], 0
            for _ in range(5):
                seconds, buckets = await aggregate()
                times.append(seconds)
            return load_rate, times, buckets, unvacuumed

    load_rate, times, buckets, unvacuumed = asyncio.run(go())
    seconds = statistics.median(times)
    before = f"; {unvacuumed:.2f} s before the history was vacuumed" if unvacuumed is not None else ""
    run.ceilings["db_hourly_aggregate_s"] = ceilings.hourly_aggregate(run.backend, run.database_url, stations,
                                                                      per_station)  # fmt: skip
    floor, ratio = run.ratio(seconds, "db_hourly_aggregate_s")
    return run.add(
        Result(
            "S7",
            f"hourly avg/min/max, {stations:,} stations × {per_station:,} instances",
            seconds,
            "s (median of 5)",
            seconds * 1000,
            None,
            max(times) * 1000,
            "db_hourly_aggregate_s",
            floor,
            ratio,
            target="≤ 1 s",
            met=seconds <= 1.0,
            notes=f"{buckets:,} hourly buckets; history loaded at {load_rate:,.0f} instances/s{before}; the ratio"
            " is Dosi's time ÷ the same aggregation in SQL on a plain table of the readings",
        )  # fmt: skip
    )


# -- S8: notification latency ------------------------------------------------------
def s8_notify(run: Run, receiver_host: str = "127.0.0.1") -> Result:
    rate = S8_RATE
    count = int(rate * run.size.seconds)
    arrivals: dict[int, float] = {}
    answered: list[float] = []  # update request latencies, ms

    open_writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        open_writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                now = time.time()
                for item in orjson.loads(body).get("data", []):
                    sequence = int(item["seq"])
                    arrivals[sequence] = now - float(item["sentAt"])
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()

    async def go() -> None:
        receiver = await asyncio.start_server(handle, receiver_host, 0)
        port = receiver.sockets[0].getsockname()[1]
        async with httpx.AsyncClient(base_url=run.base + API, timeout=30) as client:
            for number in range(PROBES):
                probe = {
                    "id": f"urn:ngsi-ld:Probe:latency-{number}",
                    "type": "Probe",
                    "seq": {"type": "Property", "value": -1},
                    "sentAt": {"type": "Property", "value": 0},
                }
                await client.post("/entities", json=probe)
            subscription = {
                "type": "Subscription",
                "entities": [{"type": "Probe"}],
                "watchedAttributes": ["seq"],
                "notification": {"format": "keyValues", "attributes": ["seq", "sentAt"],
                                 "endpoint": {"uri": f"http://{receiver_host}:{port}/notify"}},
            }  # fmt: skip
            made = await client.post("/subscriptions", json=subscription)
            if made.status_code != 201:
                raise RuntimeError(f"subscription answered {made.status_code}: {made.text[:300]}")

        def update(sequence: int) -> tuple[str, bytes]:
            body = orjson.dumps({"seq": {"type": "Property", "value": sequence},
                                 "sentAt": {"type": "Property", "value": time.time()}})  # fmt: skip
            return f"{run.base}{API}/entities/urn:ngsi-ld:Probe:latency-{sequence % PROBES}/attrs", body

        answered.extend(await paced.post_paced(update, rate, count))
        deadline = time.perf_counter() + 30
        while len(arrivals) < count and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        receiver.close()
        for writer in open_writers:
            writer.close()
        await asyncio.sleep(0.1)

    asyncio.run(go())
    latencies = sorted(v * 1000 for v in arrivals.values())
    lost = count - len(arrivals)
    if not latencies:
        return run.add(Result("S8", "notification latency", None, "ms", target="p50 ≤ 10 ms, p99 ≤ 100 ms",
                              met=False, notes="no notification arrived"))  # fmt: skip
    p50, p95, p99 = (latencies[min(len(latencies) - 1, int(len(latencies) * q))] for q in (0.5, 0.95, 0.99))
    floor, ratio = run.ratio(p50, "http_post_paced_p50_ms")
    return run.add(
        Result(
            "S8",
            f"notification latency at {rate} updates/s",
            p50,
            "ms p50",
            p50,
            p95,
            p99,
            "http_post_paced_p50_ms",
            floor,
            ratio,
            "p50 ≤ 10 ms, p99 ≤ 100 ms",
            p50 <= 10 and p99 <= 100 and lost == 0,
            f"{count:,} updates ({_median(answered):.1f} ms p50 to answer), {lost} notifications missing; the ratio"
            " is p50 ÷ the p50 of the same paced POSTs answered by an empty app (one hop of the two)",
        )  # fmt: skip
    )


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


# -- S9-S11 ------------------------------------------------------------------------
def s9_mqtt(run: Run) -> Result:
    """Parking-sensor readings published with QoS 1 through Mosquitto into Dosi's MQTT source, until every one
    is stored (current state and history); the ceiling is the same messages to a subscriber that drops them."""
    count, sensors = run.size.mqtt_messages, run.size.stations
    messages = list(mqtt.readings(count, sensors))
    with mqtt.broker() as port:
        ceiling = mqtt.raw_ceiling(port, messages)
    run.ceilings["mqtt_qos1_raw"] = ceiling
    with mqtt.broker() as port, tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "parking.toml"
        shipped = (Path(__file__).resolve().parents[1] / "src/dosi/demo/sources/parking.toml").read_text("utf-8")
        config.write_text(shipped.replace("mqtt://127.0.0.1:1883", f"mqtt://127.0.0.1:{port}"), encoding="utf-8")
        env = {"DOSI_INGEST_SOURCES": str(config), "DOSI_INGEST_STATUS_INTERVAL": "0.5"}
        dosi = server.dosi(run.database_url, run.workers, env).start()
        try:
            # until the source has subscribed and stores: the count rises between two reads (a new process counts
            # from zero, so on a store kept from an earlier run the first reads may be lower than the saved one)
            seen, warm, began = _ingest_status(dosi.base), 0, time.monotonic()
            while True:
                warm += 1
                mqtt.publish(port, [("city/parking/warm/0", orjson.dumps({"occupied": True, "ts": warm * 1000,
                                     "lat": 37.5, "lon": 127.0}))])  # fmt: skip
                time.sleep(0.3)
                now = _ingest_status(dosi.base)
                if now > seen:
                    break
                if time.monotonic() - began > 120:
                    raise RuntimeError("S9: the hub's MQTT source stored nothing within 120 s")
                seen = now
            time.sleep(1.0)  # the warm-up readings counted in the saved status too
            target = _ingest_status(dosi.base) + count
            began = time.perf_counter()
            mqtt.publish(port, messages)
            stored, deadline = 0, time.monotonic() + 600
            while stored < target and time.monotonic() < deadline:
                time.sleep(0.1)
                stored = _ingest_status(dosi.base)
            seconds = time.perf_counter() - began
        finally:
            dosi.stop()
    kept = _bench_history(run)
    rate = count / seconds
    return run.add(
        Result(
            "S9",
            "MQTT ingest, QoS 1 (messages/s, zero loss)",
            rate,
            "msg/s",
            ceiling="mqtt_qos1_raw",
            ceiling_value=ceiling,
            ratio=rate / ceiling,
            target="≥ 80% of raw Mosquitto, 0 lost",
            met=rate >= 0.8 * ceiling and kept == count,
            notes=f"{count:,} readings of {sensors:,} spots; {kept:,} history instances kept ({count - kept:,} lost);"
            f" strict validation; history and current state written",
        )
    )


def _ingest_status(base: str) -> int:
    """Readings the hub has stored or rejected so far (from its live status)."""
    answer = httpx.get(base + "/dosi/v1/ingest/status", timeout=10)
    return sum(s.get("stored", 0) + s.get("rejected", 0) + s.get("duplicates", 0) for s in answer.json())


def _bench_history(run: Run) -> int:
    sql = ("SELECT count(*) FROM history WHERE entity_id LIKE 'urn:ngsi-ld:ParkingSpot:bench:%'"
           " AND attr = 'https://uri.etsi.org/ngsi-ld/status'")  # fmt: skip
    if run.backend == "postgres":
        return int(asyncio.run(run_sql(run.database_url, sql, fetch=True)))
    import sqlite3

    with contextlib.closing(sqlite3.connect(run.database_url.removeprefix("sqlite:///"))) as db:
        return int(db.execute(sql).fetchone()[0])


def s10_memory(run: Run) -> Result:
    assert run.dosi is not None
    anon, rss = run.dosi.memory_mb("RssAnon"), run.dosi.memory_mb("VmRSS")
    floor, ratio = run.ratio(anon, "app_rss_mb")
    return run.add(
        Result(
            "S10",
            f"server memory holding {run.size.entities:,} entities",
            anon,
            "MB RssAnon",
            ceiling="app_rss_mb",
            ceiling_value=floor,
            ratio=ratio,
            target="≤ 300 MB",
            met=anon <= 300,
            notes=f"{run.workers} workers + supervisor, after S3-S6; VmRSS {rss:,.0f} MB; the ratio is ÷ the"
            " RssAnon of the empty app's processes after its loads",
        )  # fmt: skip
    )


def s11_startup(run: Run) -> Result:
    extra = {"DOSI_WORKERS": "1"}
    dosi = server.dosi(run.database_url, 1, extra)
    dosi.ready_path = API + "/entities?type=ParkingSpot&limit=1"
    with dosi:
        seconds = dosi.started_in
    floor, ratio = run.ratio(seconds, "app_start_s")
    return run.add(
        Result(
            "S11",
            "dosi serve → first answered query",
            seconds,
            "s",
            ceiling="app_start_s",
            ceiling_value=floor,
            ratio=ratio,
            target="≤ 2 s",
            met=seconds <= 2.0,
            notes=f"on the loaded store ({run.size.entities:,} entities), one worker; the ratio is ÷ the start of"
            " the empty app with one worker",
        )  # fmt: skip
    )


WRITE_SCENARIOS: list[Callable[[Run], Result]] = [s1_create, s2_batch]
READ_SCENARIOS: list[Callable[[Run], Result]] = [s3_retrieve, s4_query, s5_near, s6_deep_page]
