"""The one statement a PostgreSQL write transaction flushes, made of only the parts its writes need.

A transaction's held writes go out as ONE statement of data-modifying CTEs: the entities updated and inserted,
the index rows that changed (types, attributes, values, geometry), history instances and outbox rows. Round trips,
not rows, are what writes wait on. Every part of a statement is initialised on each run (its tables and their
indexes opened and locked) whether it has rows or not, so a part is written into the statement only when the flush
has rows for it: an update of one value is four parts, not twenty. Each combination is its own prepared statement.

An update changes only the index rows that differ from the stored document's (read when the transaction locked
it). A DELETE part never sees the rows inserted beside it (every CTE reads the statement's snapshot), and the
rows one part deletes are never the rows its neighbour inserts. type_buckets and type_spans change only when an
entity's types do, type_attrs when its types or its (attribute, attribute type) pairs do, each connection in its
own shard (concurrent writers of a type never wait for each other).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson

from dosi.store.base import Entity, HistoryRow, OutboxRow, Shape, attribute_rows, geo_rows, shapes, value_rows
from dosi.store.history_sql import COLUMNS

ValueRow = tuple[str, float | None, str | None]
# the version of the tenant's ($1) subscriptions: it changes whenever one of them does (migration 0013)
SUBSCRIPTIONS_VERSION = "coalesce((SELECT version FROM subscription_versions WHERE tenant = $1), 0)"


@dataclass(frozen=True)
class IndexRows:
    """An entity's rows in the index tables."""

    types: tuple[str, ...]
    attrs: frozenset[tuple[str, str]]
    values: frozenset[ValueRow]
    geos: tuple[tuple[str, dict[str, Any]], ...]  # (attribute, geometry): compared as values, whatever their key order

    @classmethod
    def of(cls, entity: Entity) -> IndexRows:
        return cls(
            tuple(sorted(set(entity["type"]))),
            frozenset(attribute_rows(entity)),
            frozenset(value_rows(entity)),
            tuple(geo_rows(entity)),
        )


@dataclass
class Changes:
    """What one flush writes, entity by entity: the parts of the statement follow from which lists have rows."""

    entities: list[tuple[str, str, str, str, bool]] = field(default_factory=list)  # id, doc, created, modified, new
    types: list[tuple[str, str]] = field(default_factory=list)  # of new and retyped entities
    retyped: list[str] = field(default_factory=list)  # updated entities whose types changed
    attrs_gone: list[tuple[str, str, str]] = field(default_factory=list)
    attrs_added: list[tuple[str, str, str]] = field(default_factory=list)
    values_gone: list[tuple[str, str, float | None, str | None]] = field(default_factory=list)
    values_added: list[tuple[str, str, float | None, str | None]] = field(default_factory=list)
    regeo: list[str] = field(default_factory=list)  # updated entities whose geometry rows are rewritten
    geos: list[tuple[str, str, str, str]] = field(default_factory=list)  # id, attr, GeoJSON, types (JSON)
    # each entity's change to the type_attrs counts, by number: entities of one kind share one change
    reshaped: list[tuple[str, int]] = field(default_factory=list)  # id, number of its change
    shape_changes: dict[frozenset[tuple[Shape, int]], int] = field(default_factory=dict)  # change -> number
    history: list[HistoryRow] = field(default_factory=list)
    outbox: list[OutboxRow] = field(default_factory=list)

    def write(
        self, entity_id: str, doc: str, created: str, modified: str, rows: IndexRows, old: IndexRows | None
    ) -> None:
        """An entity written: `old` is the stored document's rows, None for a new entity."""
        self.entities.append((entity_id, doc, created, modified, old is None))
        retyped = old is not None and old.types != rows.types
        if old is None or retyped:
            self.types += [(entity_id, t) for t in rows.types]
        if retyped:
            self.retyped.append(entity_id)
        before_attrs, before_values = (old.attrs, old.values) if old is not None else (frozenset(), frozenset())
        self.attrs_gone += [(entity_id, *row) for row in sorted(before_attrs - rows.attrs)]
        self.attrs_added += [(entity_id, *row) for row in sorted(rows.attrs - before_attrs)]
        self.values_gone += [(entity_id, *row) for row in before_values - rows.values]
        self.values_added += [(entity_id, *row) for row in rows.values - before_values]
        self._reshape(entity_id, rows, old, retyped)
        if old is None or retyped or old.geos != rows.geos:  # geometry rows carry the types: both rewrite them
            if old is not None:
                self.regeo.append(entity_id)
            types = orjson.dumps(rows.types).decode()
            self.geos += [(entity_id, attr, orjson.dumps(geometry).decode(), types) for attr, geometry in rows.geos]

    def _reshape(self, entity_id: str, rows: IndexRows, old: IndexRows | None, retyped: bool) -> None:
        """The entity's change to the type_attrs counts, numbered: entities of one kind share a number."""
        if old is not None and not retyped and old.attrs == rows.attrs:
            return
        change: Counter[Shape] = Counter()
        if old is None or retyped:
            change.update(shapes(rows.types, rows.attrs))
            if old is not None:
                change.subtract(shapes(old.types, old.attrs))
        else:
            change.update(shapes(rows.types, rows.attrs - old.attrs))
            change.subtract(shapes(rows.types, old.attrs - rows.attrs))
        key = frozenset((shape, n) for shape, n in change.items() if n)
        if key:
            self.reshaped.append((entity_id, self.shape_changes.setdefault(key, len(self.shape_changes))))


class WriteStatement:
    """The statement of one flush: its CTE parts and their parameters, numbered as the parts are added."""

    def __init__(self, tenant: str):
        self.params: list[Any] = [tenant]
        self.parts: list[str] = []
        self.final = ""

    def arrays(self, rows: list[tuple[Any, ...]], casts: str) -> str:
        """`unnest(...)` of the rows' columns as parallel arrays, one parameter per column."""
        kinds = casts.split()
        columns = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in kinds]
        marks = []
        for column, kind in zip(columns, kinds, strict=True):
            self.params.append(column)
            marks.append(f"${len(self.params)}::{kind}[]")
        return f"unnest({', '.join(marks)})"

    def add(self, name: str, sql: str) -> None:
        self.parts.append(f"{name} AS (\n    {sql}\n)")

    @classmethod
    def of(cls, tenant: str, changes: Changes, version: int | None, alone: bool = False) -> WriteStatement:
        """The flush's statement; `alone` when it is its transaction (no BEGIN before it, no COMMIT after it):
        then any failure must fail the statement itself, so an existing id and changed subscriptions raise."""
        s = cls(tenant)
        written = s._entities(changes, alone)
        if written:
            s._types(changes)
            s._attrs(changes)
            s._shapes(changes)
            s._values(changes)
            s._geos(changes)
        if changes.history:
            rows = [_history_columns(r) for r in changes.history]
            source = s.arrays(rows, "text text text text text float8 float8 float8 float8 float8 text")
            s.add("history", f"""INSERT INTO history (tenant, {COLUMNS}) SELECT $1, h.entity_id, h.types::jsonb, h.attr,
    h.instance_id, h.dataset_id, h.observed_ts, h.created_ts, h.modified_ts, h.deleted_ts, h.num, h.doc::jsonb
    FROM {source} AS h(entity_id, types, attr, instance_id, dataset_id, observed_ts, created_ts, modified_ts,
    deleted_ts, num, doc)""")  # fmt: skip
        # of the tenant's subscriptions: outbox rows made from another version are not written
        current = SUBSCRIPTIONS_VERSION
        if alone and version is not None:  # changed: the statement fails
            s.params.append(version)
            expected = f"${len(s.params)}::bigint"
            current = f"CASE {current} WHEN {expected} THEN {expected} ELSE subscriptions_changed($1) END"
        s.add("version", f"SELECT {current} AS n")
        s.final = "SELECT NULL::text, n FROM version"
        if written:
            s.final = "SELECT id, seq FROM written UNION ALL " + s.final
        if changes.outbox:
            s.params.append(version)
            mark = f"${len(s.params)}::bigint"
            source = s.arrays([_outbox_columns(r) for r in changes.outbox], "text text text text text text")
            s.add("outbox", f"""INSERT INTO outbox (tenant, subscription_id, notification_id, endpoint, payload,
    created_at, next_at) SELECT o.tenant, o.sub, o.nid, o.endpoint::jsonb, o.payload, o.created, 0
    FROM {source} AS o(tenant, sub, nid, endpoint, payload, created)
    WHERE {mark} IS NULL OR {mark} = (SELECT n FROM version)
    RETURNING 1""")  # fmt: skip
            # the wake-up that the delivery workers receive when this transaction commits
            s.final += " UNION ALL SELECT NULL, NULL FROM (SELECT pg_notify('dosi_outbox', '')"
            s.final += " FROM (SELECT 1 FROM outbox LIMIT 1) AS o) AS n"
        return s

    @property
    def sql(self) -> str:
        return "WITH " + ",\n".join(self.parts) + "\n" + self.final

    def _entities(self, changes: Changes, alone: bool) -> bool:
        if not changes.entities:
            return False
        source = self.arrays(changes.entities, "text text text text bool")
        self.add("u", f"SELECT * FROM {source} AS u(id, doc, created, modified, new)")
        written = []
        if any(not row[4] for row in changes.entities):
            self.add("upd", """UPDATE entities e SET doc = u.doc::jsonb, modified_at = u.modified FROM u
    WHERE NOT u.new AND e.tenant = $1 AND e.id = u.id RETURNING e.id, e.seq""")  # fmt: skip
            written.append("SELECT id, seq FROM upd")
        if any(row[4] for row in changes.entities):
            # alone, an existing id fails the statement; in a transaction, the id missing from `written` tells
            conflict = "" if alone else "ON CONFLICT (tenant, id) DO NOTHING "
            self.add("ins", f"""INSERT INTO entities (tenant, id, doc, created_at, modified_at)
    SELECT $1, u.id, u.doc::jsonb, u.created, u.modified FROM u WHERE u.new
    {conflict}RETURNING id, seq""")  # fmt: skip
            self.add("tenant", "INSERT INTO tenants SELECT $1 WHERE EXISTS (SELECT 1 FROM ins) ON CONFLICT DO NOTHING")
            written.append("SELECT id, seq FROM ins")
        self.add("written", " UNION ALL ".join(written))
        return True

    def _types(self, changes: Changes) -> None:
        if not changes.types:
            return
        source = self.arrays(changes.types, "text text")
        self.add("kept", f"SELECT w.seq, k.type FROM written w JOIN {source} AS k(id, type) ON k.id = w.id")
        counted = "SELECT type, seq >> 12 AS bucket, 1 AS k FROM added"
        if changes.retyped:
            self.params.append(changes.retyped)
            self.add("gone", f"""DELETE FROM entity_types t USING written w
    WHERE w.id = ANY(${len(self.params)}::text[]) AND t.seq = w.seq
    AND NOT EXISTS (SELECT 1 FROM kept WHERE kept.seq = t.seq AND kept.type = t.type)
    RETURNING t.type, t.seq""")  # fmt: skip
            counted += " UNION ALL SELECT type, seq >> 12, -1 FROM gone"
        self.add("added", """INSERT INTO entity_types (tenant, type, seq) SELECT $1, type, seq FROM kept
    ON CONFLICT DO NOTHING RETURNING type, seq""")  # fmt: skip
        self.add("counted", counted)
        self.add("buckets", """INSERT INTO type_buckets (tenant, type, bucket, shard, n)
    SELECT $1, type, bucket, pg_backend_pid() % 64, sum(k) FROM counted GROUP BY type, bucket HAVING sum(k) <> 0
    ON CONFLICT (tenant, type, bucket, shard) DO UPDATE SET n = type_buckets.n + EXCLUDED.n""")  # fmt: skip
        self.add("spans", """INSERT INTO type_spans (tenant, type, span, shard, n)
    SELECT $1, type, bucket >> 6, pg_backend_pid() % 64, sum(k) FROM counted GROUP BY type, bucket >> 6
    HAVING sum(k) <> 0
    ON CONFLICT (tenant, type, span, shard) DO UPDATE SET n = type_spans.n + EXCLUDED.n""")  # fmt: skip

    def _attrs(self, changes: Changes) -> None:
        if changes.attrs_gone:
            source = self.arrays(changes.attrs_gone, "text text text")
            self.add("attrs_gone", f"""DELETE FROM entity_attrs x USING written w JOIN {source} AS d(id, attr, atype)
    ON d.id = w.id WHERE x.tenant = $1 AND x.attr = d.attr AND x.seq = w.seq AND x.atype = d.atype""")  # fmt: skip
        if changes.attrs_added:
            source = self.arrays(changes.attrs_added, "text text text")
            self.add("attrs", f"""INSERT INTO entity_attrs (tenant, attr, seq, atype) SELECT $1, a.attr, w.seq, a.atype
    FROM written w JOIN {source} AS a(id, attr, atype) ON a.id = w.id ON CONFLICT DO NOTHING""")  # fmt: skip

    def _shapes(self, changes: Changes) -> None:
        if not changes.reshaped:
            return
        reshaped = self.arrays(changes.reshaped, "text int")
        rows = [(number, *shape, n) for change, number in changes.shape_changes.items() for shape, n in change]
        counted = self.arrays(rows, "int text text text int")
        self.add("shapes", f"""INSERT INTO type_attrs (tenant, type, attr, atype, shard, n)
    SELECT $1, c.type, c.attr, c.atype, pg_backend_pid() % 64, sum(c.n)
    FROM written w JOIN {reshaped} AS r(id, number) ON r.id = w.id JOIN {counted} AS c(number, type, attr, atype, n)
    ON c.number = r.number GROUP BY c.type, c.attr, c.atype HAVING sum(c.n) <> 0
    ON CONFLICT (tenant, type, attr, atype, shard) DO UPDATE SET n = type_attrs.n + EXCLUDED.n""")  # fmt: skip

    def _values(self, changes: Changes) -> None:
        if changes.values_gone:
            source = self.arrays(changes.values_gone, "text text float8 text")
            self.add("vals_gone", f"""DELETE FROM entity_values x USING written w JOIN {source} AS d(id, attr, num, txt)
    ON d.id = w.id WHERE x.seq = w.seq AND x.attr = d.attr
    AND x.num IS NOT DISTINCT FROM d.num AND x.txt IS NOT DISTINCT FROM d.txt""")  # fmt: skip
        if changes.values_added:
            source = self.arrays(changes.values_added, "text text float8 text")
            self.add("vals", f"""INSERT INTO entity_values (tenant, attr, seq, num, txt)
    SELECT $1, v.attr, w.seq, v.num, v.txt
    FROM written w JOIN {source} AS v(id, attr, num, txt) ON v.id = w.id""")  # fmt: skip

    def _geos(self, changes: Changes) -> None:
        if changes.regeo:
            self.params.append(changes.regeo)
            self.add("geos_gone", f"""DELETE FROM entity_geo x USING written w
    WHERE w.id = ANY(${len(self.params)}::text[]) AND x.seq = w.seq""")  # fmt: skip
        if changes.geos:
            source = self.arrays(changes.geos, "text text text text")
            self.add("geos", f"""INSERT INTO entity_geo (seq, tenant, attr, geom, types)
    SELECT w.seq, $1, g.attr, ST_MakeValid(ST_SetSRID(ST_GeomFromGeoJSON(g.geojson), 4326)),
    ARRAY(SELECT jsonb_array_elements_text(g.types::jsonb))
    FROM written w JOIN {source} AS g(id, attr, geojson, types) ON g.id = w.id""")  # fmt: skip


def _history_columns(r: HistoryRow) -> tuple[Any, ...]:
    types = orjson.dumps(r.types).decode()
    doc = orjson.dumps(r.doc).decode()
    return (r.entity_id, types, r.attr, r.instance_id, r.dataset_id, r.observed_ts, r.created_ts, r.modified_ts,
            r.deleted_ts, r.num, doc)  # fmt: skip


def _outbox_columns(r: OutboxRow) -> tuple[Any, ...]:
    endpoint = orjson.dumps(r.endpoint).decode()
    return (r.tenant, r.subscription_id, r.notification_id, endpoint, r.payload, r.created_at)
