"""Senders: one small Protocol, one implementation per endpoint scheme.

A sender raises DeliveryError when the receiver did not take the notification.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import httpx

from dosi.errors import DosiError
from dosi.notify.http1 import HttpError, KeepAliveClient
from dosi.outbound import OutboundGuard

LINK_REL = "http://www.w3.org/ns/json-ld#context"


class DeliveryError(Exception):
    pass


class Sender(Protocol):
    async def send(self, endpoint: dict[str, Any], payload: bytes, tenant: str) -> None: ...


def headers_for(endpoint: dict[str, Any], tenant: str) -> dict[str, str]:
    headers = {"Content-Type": endpoint.get("accept", "application/json")}
    if endpoint.get("link"):
        headers["Link"] = f'<{endpoint["link"]}>; rel="{LINK_REL}"; type="application/ld+json"'
    if tenant:
        headers["NGSILD-Tenant"] = tenant
    for item in endpoint.get("receiverInfo") or []:
        headers[str(item["key"])] = str(item["value"])
    return headers


class HttpSender:
    """POSTs the notification; no redirects are followed and the SSRF guard runs on every call."""

    def __init__(self, guard: OutboundGuard, timeout: float):
        self.guard = guard
        self.client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)  # https
        self.plain = KeepAliveClient(timeout)  # http: kept-alive connections, little CPU per request

    async def send(self, endpoint: dict[str, Any], payload: bytes, tenant: str) -> None:
        uri = endpoint["uri"]
        try:
            await self.guard.check(uri)
        except DosiError as err:
            raise DeliveryError(err.detail) from None
        headers = headers_for(endpoint, tenant)
        try:
            if uri.startswith("http:"):
                status = await self.plain.post(uri, payload, headers)
            else:
                status = (await self.client.post(uri, content=payload, headers=headers)).status_code
        except (httpx.HTTPError, HttpError, OSError, ValueError) as err:
            raise DeliveryError(f"{type(err).__name__}: {err}") from None
        if not 200 <= status < 300:
            raise DeliveryError(f"the receiver answered HTTP {status}")

    async def close(self) -> None:
        await self.client.aclose()
        await self.plain.close()


class MqttSender:
    """Publishes {"metadata": headers, "body": notification} on the URI's topic (paho-mqtt, in a thread)."""

    def __init__(self, guard: OutboundGuard, timeout: float):
        self.guard = guard
        self.timeout = timeout

    async def send(self, endpoint: dict[str, Any], payload: bytes, tenant: str) -> None:
        uri = endpoint["uri"]
        try:
            await self.guard.check(uri, schemes=("mqtt", "mqtts"))
        except DosiError as err:
            raise DeliveryError(err.detail) from None
        info = {str(i["key"]): str(i["value"]) for i in endpoint.get("notifierInfo") or []}
        metadata = headers_for({**endpoint, "receiverInfo": endpoint.get("receiverInfo")}, tenant)
        message = b'{"metadata":' + _json(metadata) + b',"body":' + payload + b"}"
        await asyncio.to_thread(self._publish, uri, message, info)

    def _publish(self, uri: str, message: bytes, info: dict[str, str]) -> None:
        try:
            import paho.mqtt.client as mqtt
        except ImportError:
            raise DeliveryError("MQTT notifications need the extra: pip install 'dosi[mqtt]'") from None
        parts = urlsplit(uri)
        version = mqtt.MQTTv5 if info.get("MQTT-Version") == "mqtt5.0" else mqtt.MQTTv311
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=version)
        if parts.username:
            client.username_pw_set(unquote(parts.username), unquote(parts.password) if parts.password else None)
        if parts.scheme == "mqtts":
            client.tls_set()
        try:
            client.connect(
                parts.hostname or "",
                parts.port or (8883 if parts.scheme == "mqtts" else 1883),
                keepalive=int(self.timeout) + 5,
            )
            client.loop_start()
            published = client.publish(parts.path.lstrip("/"), message, qos=int(info.get("MQTT-QoS", "0")))
            published.wait_for_publish(timeout=self.timeout)
            if not published.is_published():
                raise DeliveryError("the MQTT broker did not acknowledge the notification in time")
        except (OSError, ValueError, RuntimeError) as err:
            raise DeliveryError(f"MQTT: {err}") from None
        finally:
            client.loop_stop()
            client.disconnect()


def _json(value: Any) -> bytes:
    import orjson

    return orjson.dumps(value)
