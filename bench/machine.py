"""What the numbers were measured on: the machine, the versions, the commit."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
from typing import Any


def _first_line(command: list[str]) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr).strip() else "?"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def memory_gib() -> float:
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemTotal"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return 0.0


def describe(database_url: str) -> dict[str, Any]:
    from dosi import __version__

    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": memory_gib(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgres": _first_line(["psql", "--version"]) if database_url.startswith("postgres") else None,
        "wrk": _first_line(["wrk", "--version"]),
        "dosi": __version__,
        "commit": _first_line(["git", "rev-parse", "--short", "HEAD"]),
    }
