"""S9's parts: a Mosquitto of the run's own, a windowed QoS 1 publisher, and the raw broker ceiling
(publisher -> Mosquitto -> one subscriber, the same messages and the same window as Dosi gets)."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from bench.server import free_port

WINDOW = 1000  # QoS 1 messages in flight from the publisher (paho's message ids wrap at 65535)


@contextlib.contextmanager
def broker() -> Iterator[int]:
    """Mosquitto on a free port, configured as operators should run it for ingest (large queues, persistence)."""
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = free_port()
    folder = tempfile.mkdtemp(prefix="dosi-bench-mqtt-")
    config = Path(folder) / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 1000000\nmax_inflight_messages 1000\n"
        f"persistence true\npersistence_location {folder}/\n"
    )
    process = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.1):
            break
        time.sleep(0.05)
    try:
        yield port
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def readings(count: int, sensors: int) -> Iterator[tuple[str, bytes]]:
    """(topic, body) of `count` parking-sensor readings spread over `sensors` spots, each a new instant."""
    start = 1_763_700_000_000
    for n in range(count):
        spot = n % sensors
        body = {"occupied": n % 3 == 0, "ts": start + n * 1000, "lat": 37.49 + spot * 1e-5, "lon": 127.02}
        yield f"city/parking/bench/{spot}", json.dumps(body).encode()


def publish(port: int, messages: list[tuple[str, bytes]]) -> float:
    """Publishes with QoS 1, at most WINDOW unacknowledged; returns seconds until the last PUBACK."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="dosi-bench-publisher")
    client.max_inflight_messages_set(WINDOW)
    client.max_queued_messages_set(WINDOW)
    window = threading.BoundedSemaphore(WINDOW)
    client.on_publish = lambda *args: window.release()
    client.connect("127.0.0.1", port)
    client.loop_start()
    began = time.perf_counter()
    for topic, body in messages:
        window.acquire()
        client.publish(topic, body, qos=1)
    for _ in range(WINDOW):  # every message acknowledged
        window.acquire()
    seconds = time.perf_counter() - began
    client.loop_stop()
    client.disconnect()
    return seconds


_SUBSCRIBER = """
import sys, threading, paho.mqtt.client as mqtt
port, expected = int(sys.argv[1]), int(sys.argv[2])
done, count = threading.Event(), [0]
def on_message(client, userdata, message):
    count[0] += 1
    if count[0] == expected:
        done.set()
client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="dosi-bench-raw", clean_session=False)
client.on_message = on_message
client.on_subscribe = lambda *args: print("ready", flush=True)
client.connect("127.0.0.1", port)
client.subscribe("city/parking/+/+", qos=1)
client.loop_start()
done.wait(600)
print("done", count[0], flush=True)
"""


def raw_ceiling(port: int, messages: list[tuple[str, bytes]]) -> float:
    """Messages/s from a publisher through Mosquitto to a QoS 1 subscriber in a process of its own (as Dosi is)
    that does nothing with them."""
    child = subprocess.Popen([sys.executable, "-c", _SUBSCRIBER, str(port), str(len(messages))],
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    began = time.perf_counter()
    publish(port, messages)
    finished = child.stdout.readline().split()
    seconds = time.perf_counter() - began
    child.wait(10)
    return int(finished[1]) / seconds
