"""Subscriptions: parse and check a client's subscription, keep it expanded, render it compacted.

Stored shape: the client's members, with attribute and type names expanded to IRIs,
"_context" holding the @context it was written with, and the delivery status members.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import re2

from dosi.errors import BadRequestData, DosiError
from dosi.ngsild.context import ActiveContext
from dosi.ngsild.model import is_datetime, is_uri, is_valid_name
from dosi.ngsild.query import parse_geo_query, parse_q, parse_scope_query, parse_type_expression

TRIGGERS = frozenset(
    {"entityCreated", "entityUpdated", "entityDeleted", "attributeCreated", "attributeUpdated", "attributeDeleted"}
)
DEFAULT_TRIGGERS = ["attributeCreated", "attributeUpdated"]
FORMATS = frozenset({"normalized", "concise", "keyValues", "simplified"})
ACCEPTS = frozenset({"application/json", "application/ld+json", "application/geo+json"})
SCHEMES = ("http", "https", "mqtt", "mqtts")
STATUS_MEMBERS = ("timesSent", "timesFailed", "lastNotification", "lastSuccess", "lastFailure", "status")
_KNOWN = frozenset(
    {
        "id",
        "type",
        "subscriptionName",
        "description",
        "entities",
        "watchedAttributes",
        "notificationTrigger",
        "timeInterval",
        "q",
        "geoQ",
        "csf",
        "isActive",
        "notification",
        "expiresAt",
        "throttling",
        "temporalQ",
        "scopeQ",
        "lang",
        "jsonldContext",
        "@context",
        "createdAt",
        "modifiedAt",
        "status",
        "expandValues",
        "datasetId",
        "join",
        "joinLevel",
        "pick",
        "omit",
        "showChanges",
        "sysAttrs",
        "localOnly",
        "contextSourceInfo",
    }
)


def _bad(message: str) -> BadRequestData:
    return BadRequestData(f"invalid subscription: {message}")


def _names(ctx: ActiveContext, raw: Any, member: str) -> list[str]:
    if not isinstance(raw, list) or not raw or not all(isinstance(n, str) and is_valid_name(n) for n in raw):
        raise _bad(f"{member} must be a non-empty array of attribute names")
    return [ctx.expand(n) for n in raw]


def map_type_names(expression: str, convert: Callable[[str], str]) -> str:
    """Apply `convert` to every type name of a type expression, keeping , ; | and parentheses."""
    return re.sub(r"[^,;|()\s]+", lambda m: convert(m.group(0)), expression)


def _positive(raw: Any, member: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw <= 0:
        raise _bad(f"{member} must be a positive number")
    return raw


def _entities(ctx: ActiveContext, raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        raise _bad("entities must be a non-empty array")
    out = []
    for selector in raw:
        if not isinstance(selector, dict) or not isinstance(selector.get("type"), str):
            raise _bad("each entity selector needs a type")
        parse_type_expression(selector["type"])
        item: dict[str, Any] = {"type": map_type_names(selector["type"], ctx.expand)}
        if "id" in selector:
            if not is_uri(selector["id"]):
                raise _bad("an entity selector id must be a URI")
            item["id"] = selector["id"]
        if "idPattern" in selector:
            pattern = selector["idPattern"]
            try:
                re2.compile(str(pattern))
            except re2.error:
                raise _bad(f"invalid idPattern {pattern!r}") from None
            item["idPattern"] = pattern
        out.append(item)
    return out


def _endpoint(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict) or not isinstance(raw.get("uri"), str):
        raise _bad("notification.endpoint.uri is required")
    uri = raw["uri"]
    if not is_uri(uri) or uri.split(":", 1)[0].lower() not in SCHEMES or "//" not in uri:
        raise _bad(f"notification endpoint {uri!r} is not an http(s) or mqtt(s) URL")
    accept = raw.get("accept", "application/json")
    if accept not in ACCEPTS:
        raise _bad(f"unsupported endpoint accept {accept!r}")
    for member in ("receiverInfo", "notifierInfo"):
        info = raw.get(member)
        if info is not None and (
            not isinstance(info, list)
            or not all(isinstance(i, dict) and isinstance(i.get("key"), str) and "value" in i for i in info)
        ):
            raise _bad(f"{member} must be an array of key/value pairs")
    return dict(raw)


def _notification(ctx: ActiveContext, raw: Any, old: dict[str, Any] | None = None) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _bad("notification must be an object")
    merged = {**(old or {}), **raw}
    out: dict[str, Any] = {k: v for k, v in merged.items() if k in STATUS_MEMBERS}
    out["endpoint"] = _endpoint(merged.get("endpoint"))
    fmt = merged.get("format", "normalized")
    if fmt not in FORMATS:
        raise _bad(f"unsupported notification format {fmt!r}")
    out["format"] = fmt
    if "attributes" in raw:
        out["attributes"] = _names(ctx, raw["attributes"], "notification.attributes")
    elif old and "attributes" in old:
        out["attributes"] = old["attributes"]
    for member in ("sysAttrs", "showChanges"):
        if member in merged:
            if not isinstance(merged[member], bool):
                raise _bad(f"notification.{member} must be true or false")
            out[member] = merged[member]
    pick, omit = merged.get("pick"), merged.get("omit")
    if (pick is not None or omit is not None) and "attributes" in out:
        raise _bad("notification.attributes cannot be combined with pick or omit")
    if pick is not None and omit is not None:
        raise _bad("notification pick and omit cannot be combined")
    for member, value in (("pick", pick), ("omit", omit)):
        if value is not None:
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise _bad(f"notification.{member} must be an array of names")
            out[member] = [v if v in ("id", "type") else ctx.expand(v) for v in value]
    for member in ("join", "joinLevel", "lang"):
        if member in merged:
            out[member] = merged[member]
    return out


def parse(body: Any, ctx: ActiveContext, now: str, old: dict[str, Any] | None = None) -> dict[str, Any]:
    """A checked, expanded subscription. With `old`, `body` is a fragment merged into it."""
    if not isinstance(body, dict):
        raise _bad("a subscription must be a JSON object")
    unknown = [k for k in body if k not in _KNOWN]
    if unknown:
        raise _bad(f"unknown members {unknown}")
    if old is None:
        if body.get("type") != "Subscription":
            raise _bad('type must be "Subscription"')
        sub_id = body.get("id", f"urn:ngsi-ld:Subscription:{uuid.uuid4()}")
    else:
        if "type" in body and body["type"] != "Subscription":
            raise _bad('type must be "Subscription"')
        if "id" in body and body["id"] != old["id"]:
            raise _bad("the id of a subscription cannot change")
        sub_id = old["id"]
    if not is_uri(sub_id):
        raise _bad(f"id {sub_id!r} is not a URI")
    merged = {**(old or {}), **{k: v for k, v in body.items() if k != "@context"}}
    out: dict[str, Any] = {"id": sub_id, "type": "Subscription"}
    for member in ("subscriptionName", "description"):
        if member in merged:
            if not isinstance(merged[member], str):
                raise _bad(f"{member} must be a string")
            out[member] = merged[member]
    if "entities" in body:
        out["entities"] = _entities(ctx, body["entities"])
    elif old and "entities" in old:
        out["entities"] = old["entities"]
    if "watchedAttributes" in body:
        out["watchedAttributes"] = _names(ctx, body["watchedAttributes"], "watchedAttributes")
    elif old and "watchedAttributes" in old:
        out["watchedAttributes"] = old["watchedAttributes"]
    triggers = merged.get("notificationTrigger", DEFAULT_TRIGGERS)
    if not isinstance(triggers, list) or not triggers or not set(triggers) <= TRIGGERS:
        raise _bad(f"notificationTrigger must list some of {sorted(TRIGGERS)}")
    out["notificationTrigger"] = triggers
    if "timeInterval" in merged:
        out["timeInterval"] = _positive(merged["timeInterval"], "timeInterval")
        if "watchedAttributes" in out:
            raise _bad("timeInterval and watchedAttributes cannot be combined")
    if "throttling" in merged:
        out["throttling"] = _positive(merged["throttling"], "throttling")
        if "timeInterval" in out:
            raise _bad("timeInterval and throttling cannot be combined")
    if "entities" not in out and "watchedAttributes" not in out:
        raise _bad("entities or watchedAttributes is required")
    _queries(merged, out)
    if "isActive" in merged:
        if not isinstance(merged["isActive"], bool):
            raise _bad("isActive must be true or false")
        out["isActive"] = merged["isActive"]
    if "datasetId" in merged:
        ids = merged["datasetId"] if isinstance(merged["datasetId"], list) else [merged["datasetId"]]
        if not ids or not all(i == "@none" or is_uri(i) for i in ids):
            raise _bad("datasetId must list URIs")
        out["datasetId"] = ids
    if "expiresAt" in merged:
        expires = merged["expiresAt"]
        if not is_datetime(expires):
            raise _bad("expiresAt must be an ISO 8601 date-time")
        if "expiresAt" in body and _parse_time(expires) <= _parse_time(now):
            raise _bad("expiresAt is in the past")
        out["expiresAt"] = expires
    if "lang" in merged:
        out["lang"] = str(merged["lang"])
    if "notification" not in merged:
        raise _bad("notification is required")
    # an update's notification member replaces the old one (its delivery status is kept)
    old_status = {k: v for k, v in (old or {}).get("notification", {}).items() if k in STATUS_MEMBERS}
    out["notification"] = _notification(
        ctx, body.get("notification", {}), old_status if "notification" in body else (old or {}).get("notification")
    )
    if old is None and "notification" not in body:
        raise _bad("notification is required")
    for member in ("jsonldContext", "_context", "_jsonldContext", "_owner", "_purpose", "createdAt"):
        if old and member in old:
            out[member] = old[member]
    if "jsonldContext" in body:
        if not is_uri(body["jsonldContext"]):
            raise _bad("jsonldContext must be a URI")
        out["jsonldContext"] = out["_jsonldContext"] = body["jsonldContext"]
    out.setdefault("createdAt", now)
    out["modifiedAt"] = now
    return out


def _queries(merged: dict[str, Any], out: dict[str, Any]) -> None:
    try:
        if merged.get("q") is not None:
            parse_q(str(merged["q"]))
            out["q"] = merged["q"]
        if merged.get("scopeQ") is not None:
            parse_scope_query(str(merged["scopeQ"]))
            out["scopeQ"] = merged["scopeQ"]
    except DosiError as err:
        raise _bad(err.detail) from None
    geo = merged.get("geoQ")
    if geo is not None:
        if not isinstance(geo, dict):
            raise _bad("geoQ must be an object")
        coords = geo.get("coordinates")
        parse_geo_query(geo.get("georel"), geo.get("geometry"), coords, geo.get("geoproperty"))
        out["geoQ"] = geo


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def status_of(doc: dict[str, Any], now: str) -> str:
    if "expiresAt" in doc and _parse_time(doc["expiresAt"]) <= _parse_time(now):
        return "expired"
    return "active" if doc.get("isActive", True) else "paused"


def render(doc: dict[str, Any], ctx: ActiveContext, now: str, sys_attrs: bool = False) -> dict[str, Any]:
    """A stored subscription, compacted with the reader's @context."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key.startswith("_") or (key in ("createdAt", "modifiedAt") and not sys_attrs):
            continue
        if key == "entities":
            value = [{**s, "type": map_type_names(s["type"], ctx.compact)} for s in value]
        elif key == "watchedAttributes":
            value = [ctx.compact(n) for n in value]
        elif key == "notification":
            value = dict(value)
            for member in ("attributes", "pick", "omit"):
                if member in value:
                    value[member] = [n if n in ("id", "type") else ctx.compact(n) for n in value[member]]
        out[key] = value
    out["status"] = status_of(doc, now)
    return out
