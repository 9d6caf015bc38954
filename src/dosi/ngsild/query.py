"""Parsers for the NGSI-LD query languages: q, scopeQ, geo-queries and type expressions.

Each parser turns a string into a small AST; store backends compile the AST to SQL.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from typing import Any

from dosi.errors import BadRequestData, InvalidRequest
from dosi.ngsild.context import ActiveContext
from dosi.ngsild.model import GEOMETRY_TYPES, geometry_problem, is_datetime

# --------------------------------------------------------------------- q


@dataclass(frozen=True)
class AttrPath:
    attr: str  # the attribute name as written (expanded later by the caller's context)
    sub: tuple[str, ...] = ()  # sub-attribute names (".")
    keys: tuple[str, ...] = ()  # members inside a compound value ("[...]")


@dataclass(frozen=True)
class Range:
    low: Any
    high: Any


@dataclass(frozen=True)
class Comparison:
    path: AttrPath
    op: str  # == != > >= < <= ~= !~=
    value: Any  # a scalar, a Range, or a tuple (any of)


@dataclass(frozen=True)
class Exists:
    path: AttrPath
    negate: bool = False


@dataclass(frozen=True)
class And:
    items: tuple[QNode, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[QNode, ...]


QNode = Comparison | Exists | And | Or

_OPS = ("==", "!=", ">=", "<=", "!~=", "~=", ">", "<")
_NAME = re.compile(r"[A-Za-z0-9_:/#@\-.\[\]%]+")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?$")


class _QParser:
    def __init__(self, text: str, max_depth: int = 32):
        self.text = text
        self.pos = 0
        self.max_depth = max_depth

    def error(self, message: str) -> InvalidRequest:
        return InvalidRequest(f"invalid q at position {self.pos}: {message}")

    def parse(self) -> QNode:
        if not self.text.strip():
            raise InvalidRequest("q is empty")
        node = self.disjunction(0)
        if self.pos != len(self.text):
            raise self.error(f"unexpected {self.text[self.pos]!r}")
        return node

    def disjunction(self, depth: int) -> QNode:
        items = [self.conjunction(depth)]
        while self.peek("|"):
            self.pos += 1
            items.append(self.conjunction(depth))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def conjunction(self, depth: int) -> QNode:
        items = [self.term(depth)]
        while self.peek(";"):
            self.pos += 1
            items.append(self.term(depth))
        return items[0] if len(items) == 1 else And(tuple(items))

    def peek(self, token: str) -> bool:
        return self.text.startswith(token, self.pos)

    def term(self, depth: int) -> QNode:
        if depth > self.max_depth:
            raise self.error("too deeply nested")
        if self.peek("("):
            self.pos += 1
            node = self.disjunction(depth + 1)
            if not self.peek(")"):
                raise self.error("missing ')'")
            self.pos += 1
            return node
        negate = False
        if self.peek("!") and not self.peek("!=") and not self.peek("!~="):
            negate = True
            self.pos += 1
        path = self.path()
        op = next((o for o in _OPS if self.peek(o)), None)
        if op is None:
            return Exists(path, negate)
        if negate:
            raise self.error("'!' only applies to an attribute without comparison")
        self.pos += len(op)
        raw = self.raw_value()
        if op in ("~=", "!~="):
            pattern = raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == '"' else raw
            if not pattern:
                raise self.error("empty pattern")
            return Comparison(path, op, pattern)
        return Comparison(path, op, self.value(raw, op))

    def path(self) -> AttrPath:
        match = _NAME.match(self.text, self.pos)
        if not match:
            raise self.error("an attribute name was expected")
        raw = match.group(0)
        # a name ends where a bracket group ends or an operator begins
        self.pos = match.end()
        head, _, rest = raw.partition("[")
        keys: list[str] = []
        if _:
            inner = "[" + rest
            for key in re.findall(r"\[([^\[\]]*)\]", inner):
                keys.extend(part for part in key.split(".") if part)
            if re.sub(r"\[[^\[\]]*\]", "", inner):
                raise self.error(f"malformed attribute path {raw!r}")
        parts = head.split(".")
        if not parts[0] or any(not p for p in parts):
            raise self.error(f"malformed attribute path {raw!r}")
        return AttrPath(parts[0], tuple(parts[1:]), tuple(keys))

    def raw_value(self) -> str:
        start = self.pos
        depth = 0
        in_quotes = False
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if in_quotes:
                if char == "\\":
                    self.pos += 1
                elif char == '"':
                    in_quotes = False
            elif char == '"':
                in_quotes = True
            elif char == "(":
                depth += 1
            elif char == ")":
                if depth == 0:
                    break
                depth -= 1
            elif char in ";|" and depth == 0:
                break
            self.pos += 1
        if in_quotes:
            raise self.error("unterminated string")
        if depth:
            raise self.error("unbalanced parentheses in a value")
        raw = self.text[start : self.pos]
        if not raw:
            raise self.error("a value was expected")
        return raw

    def value(self, raw: str, op: str) -> Any:
        parts = _split_outside_quotes(raw, ",")
        if len(parts) > 1:
            if op not in ("==", "!="):
                raise self.error("a list of values needs == or !=")
            return tuple(self.scalar(p) for p in parts)
        if ".." in raw and not raw.startswith('"'):
            low, _, high = raw.partition("..")
            if op not in ("==", "!="):
                raise self.error("a range needs == or !=")
            return Range(self.scalar(low), self.scalar(high))
        return self.scalar(raw)

    def scalar(self, raw: str) -> Any:
        if len(raw) >= 2 and raw[0] == '"' and raw[-1] == '"':
            return raw[1:-1].replace('\\"', '"')
        if raw in ("true", "false"):
            return raw == "true"
        if _NUMBER.match(raw):
            number = float(raw)
            return int(number) if number.is_integer() and "." not in raw and "e" not in raw.lower() else number
        if any(char in raw for char in '"()<>=!~'):
            raise self.error(f"malformed value {raw!r}")
        return raw  # dates, times, URIs and other bare words compare as strings


def _split_outside_quotes(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    in_quotes = False
    for char in text:
        if char == '"':
            in_quotes = not in_quotes
        if char == sep and not in_quotes:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def parse_q(text: str, max_length: int = 4096) -> QNode:
    if len(text) > max_length:
        raise InvalidRequest(f"q is longer than {max_length} characters")
    return _QParser(text).parse()


def expand_q(node: QNode, ctx: ActiveContext) -> QNode:
    if isinstance(node, And):
        return And(tuple(expand_q(i, ctx) for i in node.items))
    if isinstance(node, Or):
        return Or(tuple(expand_q(i, ctx) for i in node.items))
    path = node.path
    meta = {"observedAt", "createdAt", "modifiedAt", "unitCode", "datasetId"}
    subs = tuple(s if (i == len(path.sub) - 1 and s in meta) else ctx.expand(s) for i, s in enumerate(path.sub))
    expanded = AttrPath(ctx.expand(path.attr), subs, path.keys)
    if isinstance(node, Exists):
        return dataclasses.replace(node, path=expanded)
    assert isinstance(node, Comparison)
    return dataclasses.replace(node, path=expanded)


def q_attributes(node: QNode) -> list[AttrPath]:
    if isinstance(node, (And, Or)):
        return [p for item in node.items for p in q_attributes(item)]
    return [node.path]


# --------------------------------------------------------------------- scopeQ


@dataclass(frozen=True)
class ScopeTerm:
    """A scope pattern: segments, where "+" is one level and a final "#" any depth below."""

    segments: tuple[str, ...]


ScopeNode = ScopeTerm | And | Or
_SCOPE_SEGMENT = re.compile(r"^[A-Za-z0-9_\-]+$|^\+$|^#$")


def parse_scope_query(text: str) -> Any:
    text = text.strip()
    if not text:
        raise InvalidRequest("scopeQ is empty")
    ors = []
    for alternative in (alt for part in _split_top(text, "|") for alt in _split_top(part, ",")):
        ands = [_scope_term(part) for part in _split_top(alternative, ";")]
        ors.append(ands[0] if len(ands) == 1 else And(tuple(ands)))
    return ors[0] if len(ors) == 1 else Or(tuple(ors))


def _split_top(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        depth += (char == "(") - (char == ")")
        if char == sep and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _scope_term(text: str) -> Any:
    text = text.strip()
    if text.startswith("(") and text.endswith(")"):
        return parse_scope_query(text[1:-1])
    if not text.startswith("/"):
        raise InvalidRequest(f"invalid scopeQ term {text!r}")
    if text == "/#":
        return ScopeTerm(("#",))
    segments = tuple(text[1:].split("/"))
    for index, segment in enumerate(segments):
        if not _SCOPE_SEGMENT.match(segment) or (segment == "#" and index != len(segments) - 1):
            raise InvalidRequest(f"invalid scopeQ term {text!r}")
    return ScopeTerm(segments)


def scope_regex(term: ScopeTerm) -> str:
    """An anchored regular expression matching the scopes a scopeQ term selects."""
    segments = list(term.segments)
    if segments == ["#"]:
        return "^/.*$"
    tail = ""
    if segments[-1] == "#":
        segments.pop()
        tail = "(/.*)?"
    body = "".join("/[^/]+" if s == "+" else "/" + re.escape(s) for s in segments)
    return "^" + body + tail + "$"


# --------------------------------------------------------------------- geo


@dataclass(frozen=True)
class GeoQuery:
    georel: str  # near within contains intersects equals disjoint overlaps
    geometry: dict[str, Any]  # GeoJSON
    geoproperty: str = "location"
    max_distance: float | None = None
    min_distance: float | None = None


GEORELS = ("near", "within", "contains", "intersects", "equals", "disjoint", "overlaps")


def parse_geo_query(
    georel: str | None, geometry: str | None, coordinates: Any, geoproperty: str | None
) -> GeoQuery | None:
    if georel is None and geometry is None and coordinates is None:
        return None
    if not georel or not geometry or coordinates is None:
        raise BadRequestData("a geo-query needs georel, geometry and coordinates")
    rel, *modifiers = georel.split(";")
    if rel not in GEORELS:
        raise BadRequestData(f"unknown georel {rel!r}")
    max_d = min_d = None
    for modifier in modifiers:
        name, _, number = modifier.partition("==")
        try:
            distance = float(number)
        except ValueError:
            raise BadRequestData(f"invalid georel modifier {modifier!r}") from None
        if distance < 0:
            raise BadRequestData("a distance cannot be negative")
        if name == "maxDistance":
            max_d = distance
        elif name == "minDistance":
            min_d = distance
        else:
            raise BadRequestData(f"invalid georel modifier {modifier!r}")
    if rel == "near" and max_d is None and min_d is None:
        raise BadRequestData("near needs maxDistance or minDistance")
    if rel != "near" and modifiers:
        raise BadRequestData(f"{rel} takes no distance")
    if geometry not in GEOMETRY_TYPES:
        raise BadRequestData(f"unsupported geometry {geometry!r}")
    if isinstance(coordinates, str):
        try:
            coords = json.loads(coordinates)
        except ValueError:
            raise BadRequestData("coordinates are not a JSON array") from None
    else:
        coords = coordinates
    shape = {"type": geometry, "coordinates": coords}
    problem = geometry_problem(shape)
    if problem:
        raise BadRequestData(problem)
    if rel == "near" and geometry != "Point":
        raise BadRequestData("near needs a Point")
    return GeoQuery(rel, shape, geoproperty or "location", max_d, min_d)


# --------------------------------------------------------------------- types


@dataclass(frozen=True)
class TypeExpr:
    """Disjunction of conjunctions of type names: "A,B" / "A|B" = either, "A;B" = both."""

    alternatives: tuple[tuple[str, ...], ...] = field(default_factory=tuple)


def parse_type_expression(text: str) -> TypeExpr:
    text = text.strip()
    if not text:
        raise BadRequestData("type is empty")
    cleaned = text.replace("(", "").replace(")", "")
    alternatives: list[tuple[str, ...]] = []
    for alternative in re.split(r"[,|]", cleaned):
        names = tuple(n.strip() for n in alternative.split(";"))
        if not all(names) or any(re.search(r"[<>\"'=\s]", n) for n in names):
            raise BadRequestData(f"invalid type expression {text!r}")
        alternatives.append(names)
    return TypeExpr(tuple(alternatives))


def is_temporal_literal(value: Any) -> bool:
    return is_datetime(value)
