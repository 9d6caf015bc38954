"""Query parameters (GET /entities, POST /entityOperations/query, retrieve) -> EntityQuery + View."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from dosi.errors import BadRequestData, InvalidRequest, TooManyResults
from dosi.ngsild.context import ActiveContext
from dosi.ngsild.evaluate import user_regex
from dosi.ngsild.join import Tree, parse_tree
from dosi.ngsild.model import LOCATION, is_uri
from dosi.ngsild.query import (
    And,
    AttrPath,
    Comparison,
    Exists,
    Or,
    QNode,
    TypeExpr,
    expand_q,
    parse_geo_query,
    parse_q,
    parse_scope_query,
    parse_type_expression,
)
from dosi.ngsild.render import CONCISE, NORMALIZED, SIMPLIFIED, View
from dosi.settings import Settings
from dosi.store.base import EntityQuery, Selector

_FORMS = {"keyValues": SIMPLIFIED, "simplified": SIMPLIFIED, "concise": CONCISE, "normalized": NORMALIZED}
_OPTIONS = set(_FORMS) | {"sysAttrs", "noOverwrite", "update", "replace"}
_MEMBERS = {"id", "type", "scope"}


def split_list(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [part.strip() for part in value.split(",")]


def parse_options(options: str | None, fmt: str | None) -> tuple[str, set[str]]:
    """(representation, option flags). `format` wins over `options`."""
    flags: set[str] = set()
    form = NORMALIZED
    if options is not None:
        for option in options.split(","):
            option = option.strip()
            if option not in _OPTIONS:
                raise InvalidRequest(f"unknown option {option!r}")
            if option in _FORMS:
                form = _FORMS[option]
            flags.add(option)
    if fmt is not None:
        if fmt not in _FORMS:
            raise InvalidRequest(f"unknown format {fmt!r}")
        form = _FORMS[fmt]
    return form, flags


def _tree(text: str, what: str) -> Tree:
    try:
        return parse_tree(text)
    except ValueError as err:
        raise BadRequestData(f"invalid {what} {text!r}: {err}") from None


def _picked(view: View, tree: Tree, ctx: ActiveContext) -> View:
    """The view keeping only the members and attributes named by a pick tree."""
    view.pick_members = frozenset(n for n in tree if n in _MEMBERS)
    view.attrs = frozenset(ctx.expand(n) for n in tree if n not in _MEMBERS)
    view.links = {ctx.expand(n): _picked(view.link_default(), sub, ctx) for n, sub in tree.items() if sub is not None}
    return view


def _omitted(view: View, tree: Tree, ctx: ActiveContext) -> View:
    """The view dropping what an omit tree names; names with {...} only project the linked entity."""
    view.omit = frozenset(n if n in _MEMBERS else ctx.expand(n) for n, sub in tree.items() if sub is None)
    view.links = {ctx.expand(n): _omitted(view.link_default(), sub, ctx) for n, sub in tree.items() if sub is not None}
    return view


def _check_patterns(node: QNode) -> None:
    if isinstance(node, (And, Or)):
        for item in node.items:
            _check_patterns(item)
    elif isinstance(node, Comparison) and node.op in ("~=", "!~="):
        check_pattern(str(node.value))


def check_pattern(pattern: str) -> None:
    user_regex(pattern)
    if "**" in pattern:
        raise BadRequestData(f"invalid regular expression {pattern!r}")


def expand_types(expr: TypeExpr, ctx: ActiveContext) -> TypeExpr:
    return TypeExpr(tuple(tuple(ctx.expand(n) for n in alt) for alt in expr.alternatives))


class QueryBuilder:
    def __init__(self, settings: Settings):
        self.settings = settings

    def view(self, ctx: ActiveContext, params: Mapping[str, str]) -> View:
        if not params:  # the default view (most reads): nothing to parse
            return View()
        form, flags = parse_options(params.get("options"), params.get("format"))
        attrs = split_list(params.get("attrs"))
        pick = params.get("pick")
        omit = params.get("omit")
        if pick is not None and omit is not None:
            raise BadRequestData("pick and omit cannot be used together")
        if attrs is not None and (pick is not None or omit is not None):
            raise BadRequestData("attrs cannot be combined with pick or omit")
        dataset_ids = split_list(params.get("datasetId"))
        geometry_property = params.get("geometryProperty")
        join = params.get("join")
        if join not in (None, "inline", "flat", "@none"):
            raise BadRequestData("join must be inline, flat or @none")
        level = _non_negative(params.get("joinLevel"), "joinLevel", 1)
        view = View(
            form=form,
            sys_attrs="sysAttrs" in flags,
            lang=params.get("lang"),
            dataset_ids=frozenset(dataset_ids) if dataset_ids else None,
            geometry_property=ctx.expand(geometry_property) if geometry_property else LOCATION,
            join=None if join == "@none" else join,
            join_level=level,
        )
        if attrs is not None:
            if not all(attrs) or any(a in ("id", "type") for a in attrs):
                raise BadRequestData("attrs must list attribute names")
            view.attrs = frozenset(ctx.expand(a) for a in attrs)
        if pick is not None:
            return _picked(view, _tree(pick, "pick"), ctx)
        if omit is not None:
            return _omitted(view, _tree(omit, "omit"), ctx)
        return view

    def query(
        self, tenant: str, ctx: ActiveContext, params: Mapping[str, str], require_filter: bool = True
    ) -> EntityQuery:
        query = EntityQuery(tenant=tenant)
        ids = split_list(params.get("id"))
        if ids is not None:
            for entity_id in ids:
                if not is_uri(entity_id):
                    raise BadRequestData(f"{entity_id!r} is not a valid entity id")
            query.ids = ids
        if params.get("idPattern") is not None:
            check_pattern(params["idPattern"])
            query.id_pattern = params["idPattern"]
        if params.get("type") is not None:
            query.types = expand_types(parse_type_expression(params["type"]), ctx)
        attrs = split_list(params.get("attrs"))
        if attrs is not None:
            if not all(attrs) or any(a in ("id", "type") for a in attrs):
                raise BadRequestData("attrs must list attribute names")
            query.attrs = [ctx.expand(a) for a in attrs]
        if params.get("q") is not None:
            query.q = expand_q(parse_q(params["q"], self.settings.q_max_length), ctx)
            _check_patterns(query.q)
        if params.get("scopeQ") is not None:
            if len(params["scopeQ"]) > self.settings.q_max_length:
                raise InvalidRequest("scopeQ is too long")
            query.scope_q = parse_scope_query(params["scopeQ"])
        geo = parse_geo_query(
            params.get("georel"), params.get("geometry"), params.get("coordinates"), params.get("geoproperty")
        )
        if geo is not None:
            query.geo = replace(geo, geoproperty=ctx.expand(geo.geoproperty))
        if params.get("orderBy"):
            query.order_by = parse_order_by(params["orderBy"], ctx)
        self.paging(query, params)
        local = params.get("local") == "true"
        if (
            require_filter
            and not local
            and not any(v is not None for v in (query.types, query.attrs, query.q, query.geo, query.scope_q))
        ):
            raise BadRequestData("a query needs type, attrs, q, a geo-query or scopeQ")
        return query

    def paging_only(self, params: Mapping[str, str]) -> EntityQuery:
        query = EntityQuery()
        self.paging(query, params)
        return query

    def paging(self, query: EntityQuery, params: Mapping[str, str]) -> None:
        query.limit = _non_negative(params.get("limit"), "limit", self.settings.page_size_default)
        query.offset = _non_negative(params.get("offset"), "offset", 0)
        if query.limit > self.settings.page_size_max:
            raise TooManyResults(f"limit may be at most {self.settings.page_size_max}")
        count = params.get("count")
        if count not in (None, "true", "false"):
            raise BadRequestData("count must be true or false")
        query.count = count == "true"
        if query.limit == 0 and not query.count:
            raise BadRequestData("limit=0 needs count=true")


_ORDER_MEMBERS = {"id", "type", "createdAt", "modifiedAt"}


def parse_order_by(text: str, ctx: ActiveContext) -> list[tuple[str | AttrPath, bool]]:
    """orderBy=name;desc,type: members or attribute paths, each ascending unless ';desc'."""
    order: list[tuple[str | AttrPath, bool]] = []
    for item in text.split(","):
        name, _, direction = item.strip().partition(";")
        if direction not in ("", "asc", "desc") or not name:
            raise BadRequestData(f"invalid orderBy term {item!r}")
        if name in _ORDER_MEMBERS:
            order.append((name, direction == "desc"))
            continue
        head, *subs = name.split(".")
        if not head or not all(subs):
            raise BadRequestData(f"invalid orderBy term {item!r}")
        path = expand_q(Exists(AttrPath(head, tuple(subs))), ctx)
        assert isinstance(path, Exists)
        order.append((path.path, direction == "desc"))
    return order


def _non_negative(raw: str | None, name: str, default: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequestData(f"{name} must be an integer") from None
    if value < 0:
        raise BadRequestData(f"{name} cannot be negative")
    return value


def query_body_params(body: Any) -> dict[str, Any]:
    """A POST /entityOperations/query body -> the same parameters as a GET query."""
    if not isinstance(body, dict) or body.get("type") != "Query":
        raise BadRequestData("the body must be a Query object (type: Query)")
    params: dict[str, Any] = {}
    selectors = body.get("entities")
    if selectors is not None:
        if not isinstance(selectors, list) or not selectors:
            raise BadRequestData("entities must be a non-empty array")
        params["_selectors"] = selectors
    for key in ("attrs", "pick", "omit"):
        if key in body:
            value = body[key]
            params[key] = ",".join(value) if isinstance(value, list) else str(value)
    for key in ("q", "scopeQ", "lang", "datasetId"):
        if key in body:
            value = body[key]
            params[key] = ",".join(value) if isinstance(value, list) else str(value)
    geo = body.get("geoQ")
    if geo is not None:
        if not isinstance(geo, dict):
            raise BadRequestData("geoQ must be an object")
        params["georel"] = geo.get("georel")
        params["geometry"] = geo.get("geometry")
        params["coordinates"] = geo.get("coordinates")
        if geo.get("geoproperty"):
            params["geoproperty"] = geo["geoproperty"]
    for key in ("join", "joinLevel"):
        if key in body:
            params[key] = str(body[key])
    return params


def parse_selector(ctx: ActiveContext, raw: Any) -> Selector:
    """One item of the `entities` array of a POST query: id(s), idPattern and/or a type expression."""
    if not isinstance(raw, dict):
        raise BadRequestData("each entities selector must be an object")
    ids = raw.get("id")
    if ids is not None:
        ids = ids if isinstance(ids, list) else [ids]
        if not all(is_uri(i) for i in ids):
            raise BadRequestData("selector ids must be URIs")
    pattern = raw.get("idPattern")
    if pattern is not None:
        check_pattern(str(pattern))
    types = raw.get("type")
    expr = expand_types(parse_type_expression(str(types)), ctx) if types is not None else None
    if ids is None and pattern is None and expr is None:
        raise BadRequestData("an entities selector needs id, idPattern or type")
    return Selector(tuple(ids) if ids else None, pattern, expr)
