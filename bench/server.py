"""Start a server (Dosi or a ceiling app) as real processes, wait for it, measure its memory, stop it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A server process group on 127.0.0.1:port; `ready_path` answers 200 once it serves."""

    def __init__(self, command: list[str], port: int, ready_path: str, env: dict[str, str] | None = None):
        self.command = command
        self.port = port
        self.ready_path = ready_path
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        self.log = Path(f"/tmp/bench-server-{port}.log")
        self.started_in = 0.0  # seconds from spawn to the first answered request

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> Server:
        began = time.perf_counter()
        with self.log.open("wb") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = began + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.base + self.ready_path, timeout=1.0).status_code == 200:
                    self.started_in = time.perf_counter() - began
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.01)
        raise RuntimeError(f"server not ready after {timeout}s: {self.log.read_text()[-2000:]}")

    def memory_mb(self, field: str = "RssAnon") -> float:
        """Summed /proc status `field` of the whole process group (supervisor and workers), in MB.

        RssAnon is the processes' own memory; VmRSS adds file pages they map (SQLite's mmap: the OS cache).
        """
        assert self.process is not None
        total = 0
        for pid in _group(self.process.pid):
            try:
                with open(f"/proc/{pid}/status") as status:
                    for line in status:
                        if line.startswith(field + ":"):
                            total += int(line.split()[1])
            except OSError:
                continue
        return total / 1024

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process = None

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _group(pgid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getpgid(int(entry)) == pgid:
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


def dosi(database_url: str, workers: int, extra_env: dict[str, str] | None = None) -> Server:
    port = free_port()
    env = {
        "DOSI_DATABASE_URL": database_url,
        "DOSI_PORT": str(port),
        "DOSI_WORKERS": str(workers),
        "DOSI_LOG_LEVEL": "warning",
        "DOSI_PAGE_SIZE_MAX": "1000",
        **(extra_env or {}),
    }
    command = [sys.executable, "-c", "from dosi.cli import main; main()", "serve"]
    return Server(command, port, "/health", env)


def ceiling_app(workers: int) -> Server:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "bench.ceiling_app:app", "--port", str(port), "--workers", str(workers)]
    command += ["--log-level", "warning", "--no-access-log", "--no-server-header"]
    return Server(command, port, "/get", {"PYTHONPATH": str(Path(__file__).resolve().parents[1])})
