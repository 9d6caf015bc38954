"""Message bodies to records: JSON, NDJSON and XML (defused). Pure."""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

import orjson
from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from dosi.ingest.mapping import Rejected

FORMATS = ("json", "ndjson", "xml")


def parse(body: bytes, fmt: str) -> list[Any]:
    """The documents a body holds (one, or one per NDJSON line)."""
    if b"\x00" in body or (b"\\u0000" in body.lower() and fmt != "xml"):
        raise Rejected("body holds a NUL character, which no stored text may contain")
    try:
        if fmt == "json":
            return [orjson.loads(body)]
        if fmt == "ndjson":
            return [orjson.loads(line) for line in body.splitlines() if line.strip()]
        if fmt == "xml":
            return [xml_to_dict(ElementTree.fromstring(body))]
    except orjson.JSONDecodeError as err:
        raise Rejected(f"body is not valid JSON: {err} / JSON 형식 오류") from None
    except (ElementTree.ParseError, DefusedXmlException) as err:
        raise Rejected(f"body is not valid XML: {err} / XML 형식 오류") from None
    raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")


def xml_to_dict(element: Element) -> Any:
    """{tag: text}, or {tag: {children}}; repeated children become a list (as open-data APIs repeat <item>)."""
    children = list(element)
    if not children:
        return {element.tag: (element.text or "").strip()}
    inner: dict[str, Any] = {}
    for child in children:
        value = xml_to_dict(child)[child.tag]
        if child.tag in inner:
            existing = inner[child.tag]
            if not isinstance(existing, _Many):
                inner[child.tag] = existing = _Many([existing])
            existing.append(value)
        else:
            inner[child.tag] = value
    return {element.tag: _plain(inner)}


class _Many(list[Any]):
    """A list made of repeated XML elements (as opposed to a value that happened to be a list)."""


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
