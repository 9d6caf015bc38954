"""The q, scopeQ, geo-query and type-expression parsers, with property-based tests."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dosi.errors import BadRequestData, DosiError, InvalidRequest
from dosi.ngsild.query import (
    And,
    AttrPath,
    Comparison,
    Exists,
    Or,
    Range,
    ScopeTerm,
    parse_geo_query,
    parse_q,
    parse_scope_query,
    parse_type_expression,
    scope_regex,
)


def test_q_structure() -> None:
    node = parse_q('(brand=="BMW"|speed>50);!parked;address[city]=="Seoul";temp.observedAt>=2024-01-01T00:00:00Z')
    assert isinstance(node, And) and isinstance(node.items[0], Or)
    assert node.items[1] == Exists(AttrPath("parked"), negate=True)
    assert node.items[2] == Comparison(AttrPath("address", (), ("city",)), "==", "Seoul")
    assert node.items[3] == Comparison(AttrPath("temp", ("observedAt",)), ">=", "2024-01-01T00:00:00Z")


def test_q_values() -> None:
    assert parse_q("a==1..5") == Comparison(AttrPath("a"), "==", Range(1, 5))
    assert parse_q('a=="x","y"') == Comparison(AttrPath("a"), "==", ("x", "y"))
    assert parse_q("a==true") == Comparison(AttrPath("a"), "==", True)
    assert parse_q("a==2.5") == Comparison(AttrPath("a"), "==", 2.5)
    assert parse_q("a==urn:ngsi-ld:X:1") == Comparison(AttrPath("a"), "==", "urn:ngsi-ld:X:1")
    assert parse_q('a~="^se.*ul$"') == Comparison(AttrPath("a"), "~=", "^se.*ul$")


@pytest.mark.parametrize("bad", ["", "a==", "(a==1", "a==1)", "a>1,2", '"a"==1', 'a=="x', "!a==1", "a..b==1"])
def test_q_errors(bad: str) -> None:
    with pytest.raises(InvalidRequest):
        parse_q(bad)


def test_q_length_is_limited() -> None:
    with pytest.raises(InvalidRequest):
        parse_q("a==1;" * 2000, max_length=4096)


NAMES = st.from_regex(r"[a-z][a-zA-Z0-9_]{0,6}", fullmatch=True)
SCALARS = st.one_of(
    st.integers(-1000, 1000).map(str),
    st.text(alphabet="abc XYZ", min_size=1, max_size=5).map(lambda s: f'"{s}"'),
    st.sampled_from(["true", "false"]),
)


@st.composite
def q_terms(draw: st.DrawFn) -> tuple[str, object]:
    name = draw(NAMES)
    op = draw(st.sampled_from(["==", "!=", ">", ">=", "<", "<="]))
    value = draw(SCALARS)
    return f"{name}{op}{value}", (name, op)


@given(st.lists(q_terms(), min_size=1, max_size=5), st.sampled_from([";", "|"]))
def test_generated_q_parses_to_matching_tree(terms: list[tuple[str, object]], joiner: str) -> None:
    text = joiner.join(t for t, _ in terms)
    node = parse_q(text)
    leaves = node.items if isinstance(node, (And, Or)) else (node,)
    assert [(leaf.path.attr, leaf.op) for leaf in leaves] == [meta for _, meta in terms]  # type: ignore[union-attr]


@given(st.text(max_size=40))
def test_any_q_text_parses_or_fails_cleanly(text: str) -> None:
    with contextlib.suppress(DosiError):
        parse_q(text)


def test_scope_queries() -> None:
    assert parse_scope_query("/a/b") == ScopeTerm(("a", "b"))
    assert scope_regex(ScopeTerm(("a", "+", "c"))) == "^/a/[^/]+/c$"
    assert scope_regex(ScopeTerm(("a", "#"))) == "^/a(/.*)?$"
    assert isinstance(parse_scope_query("/a;/b|/c"), Or)
    with pytest.raises(InvalidRequest):
        parse_scope_query("a/b")


def test_geo_queries() -> None:
    geo = parse_geo_query("near;maxDistance==100", "Point", "[127.0, 37.5]", None)
    assert geo is not None and geo.max_distance == 100 and geo.geoproperty == "location"
    assert parse_geo_query(None, None, None, None) is None
    for args in [
        ("near", "Point", "[1,2]"),
        ("within", "Point", "[1]"),
        ("bogus", "Point", "[1,2]"),
        ("within", "Polygon", "[[[0,0],[1,0],[1,1]]]"),
        ("near;maxDistance==-1", "Point", "[1,2]"),
        ("within", "Polygon", "not json"),
    ]:
        with pytest.raises(BadRequestData):
            parse_geo_query(args[0], args[1], args[2], None)


@given(st.lists(st.floats(-180, 180), min_size=0, max_size=4), st.sampled_from(["Point", "LineString", "Polygon"]))
def test_geo_coordinates_never_crash(coords: list[float], geometry: str) -> None:
    with contextlib.suppress(BadRequestData):
        parse_geo_query("intersects", geometry, str(coords), None)


def test_type_expressions() -> None:
    assert parse_type_expression("A,B").alternatives == (("A",), ("B",))
    assert parse_type_expression("(A;B)|C").alternatives == (("A", "B"), ("C",))
    with pytest.raises(BadRequestData):
        parse_type_expression("A,,B")
