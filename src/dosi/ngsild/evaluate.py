"""Evaluate query ASTs against one entity in memory.

Used to decide whether the single entity a write just changed matches a subscription;
queries over stored entities always run in SQL.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson
import re2

from dosi.errors import BadRequestData
from dosi.ngsild.geo import matches as geo_matches
from dosi.ngsild.model import GEO_IRIS
from dosi.ngsild.query import (
    And,
    AttrPath,
    Comparison,
    Exists,
    GeoQuery,
    Or,
    QNode,
    Range,
    ScopeTerm,
    TypeExpr,
    scope_regex,
)

_META = {"observedAt", "createdAt", "modifiedAt", "unitCode", "datasetId"}


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> Any:
    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options)


def user_regex(pattern: str) -> Any:
    """A client's pattern compiled by RE2 (linear time: it cannot hang the server); BadRequestData if invalid."""
    try:
        return _regex(pattern)
    except re2.error:
        raise BadRequestData(f"invalid regular expression {pattern!r}") from None


def matches_types(entity: dict[str, Any], expr: TypeExpr) -> bool:
    types = set(entity.get("type", []))
    return any(all(name in types for name in names) for names in expr.alternatives)


def matches_id_pattern(entity_id: str, pattern: str) -> bool:
    try:
        return _regex(pattern).search(entity_id) is not None
    except re2.error:
        return False


def _values(entity: dict[str, Any], path: AttrPath) -> list[Any]:
    """Every value the path reaches in the entity (one per instance, arrays flattened)."""
    out: list[Any] = []
    subs = list(path.sub)
    meta = subs.pop() if subs and subs[-1] in _META else None
    for inst in entity.get("attrs", {}).get(path.attr, []):
        node: Any = inst
        for sub in subs:
            node = node.get("sub", {}).get(sub) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            continue
        if meta:
            candidates = [node.get(meta)]
        elif path.keys:
            value = node.get("value")
            for key in path.keys:
                value = value.get(key) if isinstance(value, dict) else None
            candidates = [value]
        else:
            value = node.get("value")
            if isinstance(value, dict) and "@value" in value:
                value = value["@value"]
            language_map = node.get("languageMap")
            candidates = [value, node.get("object"), node.get("vocab")]
            if isinstance(language_map, dict):
                candidates.extend(language_map.values())
        for candidate in candidates:
            if isinstance(candidate, list):
                out.extend(candidate)
            elif candidate is not None:
                out.append(candidate)
    return out


def _same_kind(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return True
    return isinstance(a, str) and isinstance(b, str)


def _compare(op: str, left: Any, right: Any) -> bool:
    if not _same_kind(left, right):
        return False
    if op == "==":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if isinstance(left, bool):
        return False
    return {">": left > right, ">=": left >= right, "<": left < right, "<=": left <= right}[op]


def _comparison(entity: dict[str, Any], node: Comparison) -> bool:
    values = _values(entity, node.path)
    value = node.value
    if node.op in ("~=", "!~="):
        hit = any(isinstance(v, str) and _regex(str(value)).search(v) is not None for v in values)
        return hit if node.op == "~=" else (bool(values) and not hit)
    if isinstance(value, Range):
        inside = any(_compare(">=", v, value.low) and _compare("<=", v, value.high) for v in values)
        return inside if node.op == "==" else (bool(values) and not inside)
    if isinstance(value, tuple):
        inside = any(_compare("==", v, item) for v in values for item in value)
        return inside if node.op == "==" else (bool(values) and not inside)
    return any(_compare(node.op, v, value) for v in values)


def matches_q(entity: dict[str, Any], node: QNode) -> bool:
    if isinstance(node, And):
        return all(matches_q(entity, item) for item in node.items)
    if isinstance(node, Or):
        return any(matches_q(entity, item) for item in node.items)
    if isinstance(node, Exists):
        present = bool(_values(entity, node.path)) or (
            not node.path.sub and not node.path.keys and node.path.attr in entity.get("attrs", {})
        )
        return not present if node.negate else present
    return _comparison(entity, node)


def matches_scope(entity: dict[str, Any], node: Any) -> bool:
    if isinstance(node, And):
        return all(matches_scope(entity, item) for item in node.items)
    if isinstance(node, Or):
        return any(matches_scope(entity, item) for item in node.items)
    assert isinstance(node, ScopeTerm)
    pattern = _regex(scope_regex(node))
    return any(pattern.search(scope) is not None for scope in entity.get("scope", []))


def matches_geo(entity: dict[str, Any], geo: GeoQuery) -> bool:
    query = orjson.dumps(geo.geometry).decode()
    for inst in entity.get("attrs", {}).get(geo.geoproperty, []):
        value = inst.get("value")
        is_geo = inst.get("type") == "GeoProperty" or geo.geoproperty in GEO_IRIS
        if (
            is_geo
            and isinstance(value, dict)
            and geo_matches(orjson.dumps(value).decode(), geo.georel, query, geo.max_distance, geo.min_distance)
        ):
            return True
    return False
