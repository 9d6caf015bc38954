"""HTTP rules of NGSI-LD: Accept, Content-Type, Link and @context, tenants, parameters, bodies."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response

from dosi.errors import (
    BadRequestData,
    InvalidRequest,
    NotAcceptable,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from dosi.ngsild.context import DEFAULT_CORE_URL

JSON = "application/json"
JSONLD = "application/ld+json"
GEOJSON = "application/geo+json"
MERGE_PATCH = "application/merge-patch+json"
LINK_REL = "http://www.w3.org/ns/json-ld#context"

_LINK = re.compile(r"<([^>]*)>\s*(.*)")


def link_header(url: str) -> str:
    return f'<{url}>; rel="{LINK_REL}"; type="{JSONLD}"'


def parse_link(value: str | None) -> str | None:
    """The @context URL of a Link header, or None when there is none."""
    if not value:
        return None
    for part in value.split(","):
        match = _LINK.match(part.strip())
        if match and LINK_REL in match.group(2):
            url = match.group(1).strip()
            if not url:
                raise BadRequestData("the Link header names an empty @context")
            return url
    return None


def _media_ranges(accept: str) -> list[tuple[str, float]]:
    ranges = []
    for index, part in enumerate(accept.split(",")):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        if not media:
            continue
        quality = 1.0
        for field in fields[1:]:
            if field.startswith("q="):
                try:
                    quality = float(field[2:])
                except ValueError:
                    quality = 0.0
        ranges.append((media, quality - index * 1e-6))
    return sorted(ranges, key=lambda r: -r[1])


def choose_accept(accept: str | None, geo: bool = False) -> str:
    """The media type to answer with. 406 when none of Accept can be produced."""
    if not accept or accept == JSON or accept == "*/*":  # what most clients send: no parsing needed
        return JSON
    offered = [JSON, JSONLD] + ([GEOJSON] if geo else [])
    for media, quality in _media_ranges(accept):
        if quality <= 0:
            continue
        if media in offered:
            return media
        if media in ("*/*", "application/*"):
            return JSON
    raise NotAcceptable(f"cannot answer with any of {accept!r}; offered: {', '.join(offered)}")


@dataclass
class Incoming:
    """What a route needs to know about a request, checked once."""

    request: Request
    params: dict[str, str]
    tenant: str
    link: str | None

    @property
    def content_type(self) -> str:
        raw = self.request.headers.get("content-type", "")
        return raw.split(";")[0].strip().lower()


def incoming(request: Request, allowed: Iterable[str] = ()) -> Incoming:
    """Parse the query string (unknown parameters are an InvalidRequest), tenant and Link."""
    params: dict[str, str] = {}
    raw_query = request.scope.get("query_string", b"")  # not request.url: building the URL costs more than this
    try:
        pairs = parse_qsl(raw_query.decode(), keep_blank_values=True) if raw_query else []
    except ValueError:  # UnicodeDecodeError included
        raise InvalidRequest("the query string is malformed") from None
    for key, value in pairs:
        if key not in allowed:
            raise InvalidRequest(f"unknown query parameter {key!r}")
        if key in params:
            params[key] = params[key] + "," + value
        else:
            params[key] = value
    tenant = request.headers.get("ngsild-tenant", "")
    if tenant and not re.match(r"^[A-Za-z0-9_\-.:]{1,64}$", tenant):
        raise BadRequestData("invalid NGSILD-Tenant header")
    return Incoming(request, params, tenant, parse_link(request.headers.get("link")))


def check_body_type(inc: Incoming, merge_patch: bool = False) -> str:
    media = inc.content_type
    allowed = {JSON, JSONLD} | ({MERGE_PATCH} if merge_patch else set())
    if media not in allowed:
        raise UnsupportedMediaType(
            f"Content-Type {media or '(none)'} is not supported; use {' or '.join(sorted(allowed))}"
        )
    return media


async def read_json(inc: Incoming, max_bytes: int, merge_patch: bool = False) -> Any:
    check_body_type(inc, merge_patch)
    raw = await inc.request.body()
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"the body is larger than {max_bytes} bytes")
    if not raw.strip():
        raise InvalidRequest("the request body is empty")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise InvalidRequest(f"the body is not valid JSON: {err}") from None
    if NUL_ESCAPE.search(raw) and has_nul(body):
        raise BadRequestData("the body holds a NUL character (\\u0000), which no text may contain")
    return body


NUL_ESCAPE = re.compile(rb"\\u0000", re.IGNORECASE)  # JSON's escape of U+0000 (a raw NUL is invalid JSON already)


def has_nul(value: Any) -> bool:
    """Whether a NUL character stands in any string or key (PostgreSQL's text and JSONB cannot hold one)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any("\x00" in k or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False


def body_context(inc: Incoming, body: Any, per_item: bool = False) -> Any:
    """The @context of a request (NGSI-LD 6.3.5). None means the core context alone.

    With `per_item`, the body is an entity of a batch: a problem is reported for it alone.
    """
    media = inc.content_type
    has_inline = isinstance(body, dict) and "@context" in body
    if media == JSONLD:
        if inc.link is not None and not per_item:
            raise BadRequestData("application/ld+json requests carry their @context in the body, not in Link")
        if not has_inline:
            raise BadRequestData("an application/ld+json body needs an @context")
        return body["@context"]
    if has_inline:
        raise BadRequestData("an application/json body cannot carry an @context; use the Link header")
    return inc.link


def ld_only_checks(inc: Incoming) -> None:
    if inc.content_type == JSONLD and inc.link is not None:
        raise BadRequestData("application/ld+json requests carry their @context in the body, not in Link")


class NgsiResponse(Response):
    """A JSON answer with NGSI-LD's @context rules applied."""

    def __init__(
        self,
        content: Any,
        status_code: int = 200,
        media: str = JSON,
        context: Any = None,
        headers: dict[str, str] | None = None,
        embed: str = "object",  # object | each | none
        links: list[str] | None = None,  # extra Link values, e.g. rel="next" pages
    ):
        context_url = context if context is not None else DEFAULT_CORE_URL
        out_headers = dict(headers or {})
        all_links = list(links or [])
        if media == JSON:
            if isinstance(context_url, str):
                all_links.insert(0, link_header(context_url))
        else:
            content = _embed(content, context_url, embed)
        if all_links:
            out_headers["Link"] = ", ".join(all_links)
        super().__init__(orjson.dumps(content), status_code, out_headers, media)


def _embed(content: Any, context: Any, embed: str) -> Any:
    if embed == "none":
        return content
    if embed == "each" and isinstance(content, list):
        return [{**item, "@context": context} if isinstance(item, dict) else item for item in content]
    if isinstance(content, dict):
        return {**content, "@context": context}
    return content


def page_links(path: str, limit: int, offset: int, total: int) -> list[str]:
    """rel="prev"/"next" links of a paged listing."""
    links = []
    if offset > 0:
        links.append(f'<{path}?limit={limit}&offset={max(0, offset - limit)}>;rel="prev";type="{JSONLD}"')
    if offset + limit < total:
        links.append(f'<{path}?limit={limit}&offset={offset + limit}>;rel="next";type="{JSONLD}"')
    return links
