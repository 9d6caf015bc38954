"""How the PostgreSQL store words its statements: pages of entities, flushes (the contract suite checks answers)."""

from __future__ import annotations

import re
from typing import Any

from dosi.ngsild.context import core_active
from dosi.ngsild.parse import Parser
from dosi.ngsild.query import AttrPath, TypeExpr, parse_geo_query, parse_q
from dosi.service.params import expand_q
from dosi.store.base import EntityQuery
from dosi.store.postgres_flush import Changes, IndexRows, WriteStatement
from dosi.store.postgres_sql import PostgresWhere

VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
KEYS_FIRST = "SELECT e.doc FROM (SELECT t.seq FROM entity_types t WHERE "


def page_sql(**query: Any) -> str:
    entity_query = EntityQuery(**query)
    where = PostgresWhere()
    sql = where.build(entity_query)
    return where.page(sql, where.order_by(entity_query), "$90", "$91")


def q(text: str) -> Any:
    return expand_q(parse_q(text), core_active())


ONE_TYPE = TypeExpr(((VOCAB + "AirQualityObserved",),))


def test_a_page_of_one_type_chooses_its_seqs_before_it_reads_any_entity() -> None:
    near = parse_geo_query("near;maxDistance==300", "Point", "[126.97, 37.56]", None)
    for query in ({}, {"q": q("pm25>30;pm10<50")}, {"geo": near}, {"attrs": [VOCAB + "pm25"]}):
        sql = page_sql(types=ONE_TYPE, **query)
        assert sql.startswith(KEYS_FIRST), sql
        keys = sql[len(KEYS_FIRST) : sql.index(") AS k JOIN entities e")]
        assert not re.search(r"\be\.", keys), keys  # no entity row in the choosing


def test_conditions_on_the_entity_row_read_it_for_every_candidate() -> None:
    by_name = AttrPath(VOCAB + "name", (), ())
    for query in (
        {"id_pattern": "^urn:x"},
        {"ids": ["urn:x:1"]},
        {"q": q('name~="^Gang"')},
        {"order_by": [(by_name, False)]},
        {"order_by": [("id", True)]},
    ):
        assert not page_sql(types=ONE_TYPE, **query).startswith(KEYS_FIRST), query
    assert not page_sql(q=q("pm25>30")).startswith(KEYS_FIRST)  # no type: the entities table is the index walked


def test_a_list_of_ids_is_not_found_by_walking_its_type() -> None:
    # the walk of a type's index in seq order serves pages of that type; with a list of ids it checked every entity
    # of the type against the list (20 ids, a type of 250,000 among a million entities: 1 s, then 1 ms)
    sql = page_sql(types=ONE_TYPE, ids=["urn:x:1", "urn:x:2"])
    assert sql.startswith("SELECT e.doc FROM entities e WHERE e.tenant = $1 AND e.id = ANY($2::text[])"), sql
    assert "LATERAL" not in sql and "ORDER BY e.seq" in sql, sql


def test_an_attribute_few_entities_have_is_collected_from_its_index() -> None:
    # checked entity by entity, a page walked 200,000 entities for an attribute ten of them have (71 ms, then 1 ms)
    query = EntityQuery(tenant="", attrs=[VOCAB + "rare"])
    for few, expected in ((True, "e.seq = ANY(ARRAY(SELECT a.seq FROM entity_attrs a WHERE a.tenant = $2"),
                          (False, "EXISTS (SELECT 1 FROM entity_attrs a WHERE a.seq = e.seq")):  # fmt: skip
        where = PostgresWhere(few_have_attrs=few)
        sql = where.build(query)
        assert expected in sql and expected in where.count(sql), sql


def parsed(**attrs: Any) -> dict[str, Any]:
    return Parser(core_active(), "2026-01-01T00:00:00Z").entity({"id": "urn:x:1", "type": "Spot", **attrs})


def parts_written(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    changes = Changes()
    changes.write("urn:x:1", "{}", "c", "m", IndexRows.of(new), None if old is None else IndexRows.of(old))
    return [part.split(" AS (")[0] for part in WriteStatement.of("", changes, 1).parts]


def test_a_flush_writes_only_the_parts_it_has_rows_for() -> None:
    where = {"type": "Point", "coordinates": [127.0, 37.5]}
    old = parsed(free={"type": "Property", "value": 3}, location={"type": "GeoProperty", "value": where})
    one_value = parsed(free={"type": "Property", "value": 4}, location={"type": "GeoProperty", "value": where})
    moved = parsed(free={"type": "Property", "value": 3}, location={"type": "GeoProperty", "value": {
        "type": "Point", "coordinates": [127.1, 37.5]}})  # fmt: skip
    assert parts_written(old, one_value) == ["u", "upd", "written", "vals_gone", "vals", "version"]
    assert parts_written(old, moved) == ["u", "upd", "written", "geos_gone", "geos", "version"]
    assert parts_written(old, old) == ["u", "upd", "written", "version"]
    same_place = {"coordinates": [127.0, 37.5], "type": "Point"}  # as stored documents may order its keys
    assert parts_written(old, parsed(free={"type": "Property", "value": 3}, location={
        "type": "GeoProperty", "value": same_place})) == ["u", "upd", "written", "version"]  # fmt: skip
    assert parts_written(None, old) == [
        "u", "ins", "tenant", "written", "kept", "added", "counted", "buckets", "spans", "attrs", "shapes", "vals",
        "geos", "version",
    ]  # fmt: skip
    owned = parsed(free={"type": "Property", "value": 3}, location={"type": "GeoProperty", "value": where},
                   owner={"type": "Relationship", "object": "urn:x:2"})  # fmt: skip
    assert parts_written(old, owned) == ["u", "upd", "written", "attrs", "shapes", "vals", "version"]
