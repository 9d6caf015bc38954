"""HTTP load through wrk (Debian package `wrk`), with its own CPU cost measured."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

LUA = Path(__file__).parent / "lua"


@dataclass
class Load:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    client_cpu: float  # CPU seconds wrk itself used

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def client_share(self) -> float:
        """wrk's CPU time over the wall time of the run: the load generator's own cost, in cores."""
        return self.client_cpu / self.seconds if self.seconds else 0.0


def require() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk / wrk 가 필요합니다: apt-get install -y wrk")
    return found


def run(
    url: str,
    script: str,
    seconds: float,
    connections: int = 16,
    threads: int = 2,
    env: dict[str, str] | None = None,
) -> Load:
    """Run wrk with lua/<script> (plus the JSON reporter) against `url`."""
    binary = require()
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as combined:
        combined.write((LUA / script).read_text())
        combined.write("\n")
        combined.write((LUA / "report.lua").read_text())
    threads = min(threads, connections)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        out = subprocess.run(
            [binary, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s"]
            + ["-s", combined.name, url],
            capture_output=True,
            text=True,
            env={**os.environ, **(env or {})},
            timeout=seconds + 60,
        )
    finally:
        os.unlink(combined.name)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no summary: {out.stdout[-500:]} {out.stderr[-500:]}")
    data = json.loads(line.removeprefix("WRK_JSON "))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Load(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=data["errors"],
        p50_ms=data["p50_us"] / 1000,
        p95_ms=data["p95_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        client_cpu=cpu,
    )
