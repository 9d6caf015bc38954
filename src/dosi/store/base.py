"""The storage seam: small Protocols every backend implements, and the query it receives.

Entities arrive and leave in Dosi's internal expanded form (see dosi.ngsild.model).
Every filter in `EntityQuery` is compiled to SQL by the backend: nothing is filtered
in Python after a broad fetch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from dosi.errors import AlreadyExists
from dosi.ngsild.query import AttrPath, Comparison, GeoQuery, QNode, Range, TypeExpr

Entity = dict[str, Any]


@dataclass(frozen=True)
class Selector:
    """One entity selector of a POST query: the entities matching all of its members."""

    ids: tuple[str, ...] | None = None
    id_pattern: str | None = None
    types: TypeExpr | None = None
    scope_q: Any = None


@dataclass
class EntityQuery:
    """A query over one tenant's entities. Names in it are already expanded IRIs."""

    tenant: str = ""
    ids: list[str] | None = None
    id_pattern: str | None = None
    types: TypeExpr | None = None
    selectors: list[Selector] | None = None  # any of them (POST /entityOperations/query)
    attrs: list[str] | None = None  # entities having at least one of these attributes
    q: QNode | None = None
    scope_q: Any = None
    geo: GeoQuery | None = None
    order_by: list[tuple[str | AttrPath, bool]] | None = None  # (member or attribute path, descending)
    limit: int = 20
    offset: int = 0
    count: bool = False
    # the entities the caller may see (any of them; None: every entity), from its access policies
    fence: list[Selector] | None = None

    def has_filter(self) -> bool:
        return any(
            value is not None
            for value in (
                self.ids,
                self.id_pattern,
                self.types,
                self.selectors,
                self.attrs,
                self.q,
                self.scope_q,
                self.geo,
            )
        )


@dataclass
class QueryResult:
    entities: list[Entity] = field(default_factory=list)
    count: int | None = None


@dataclass
class TypeInfo:
    type: str
    count: int
    attributes: dict[str, set[str]]  # attribute IRI -> attribute types seen


@dataclass
class AttributeInfo:
    attr: str
    count: int | None  # entities having it; counted when one attribute is asked for (None in a list)
    types: set[str]  # entity type IRIs having it
    attribute_types: set[str]


@dataclass
class StoredContext:
    id: str
    url: str
    kind: str  # Hosted, Cached, ImplicitlyCreated
    body: Any
    created_at: str
    last_used: str | None = None
    hits: int = 0


@dataclass
class OutboxRow:
    """One notification owed to one subscription, as stored until it is delivered."""

    tenant: str
    subscription_id: str
    notification_id: str
    endpoint: dict[str, Any]  # uri, accept, receiverInfo, notifierInfo
    payload: str  # the notification, serialised once when the change committed
    created_at: str
    attempts: int = 0
    seq: int = 0


# one aggregation period: (index, count, sum, avg, min, max, sum of squares, distinct values or None)
Bucket = tuple[int, int, float | None, float | None, float | None, float | None, float | None, int | None]


@dataclass
class Aggregate:
    """The periods of one attribute of one entity: where they start, its attribute type, the sums per period."""

    entity_id: str
    attr: str
    attr_type: str
    start: float
    buckets: list[Bucket]


@dataclass
class HistoryRow:
    """One instance of one attribute at one time (the temporal representation's unit)."""

    entity_id: str
    types: list[str]
    attr: str
    instance_id: str
    dataset_id: str | None
    observed_ts: float | None
    created_ts: float
    modified_ts: float
    deleted_ts: float | None
    num: float | None  # the value when it is a number: what aggregations use
    doc: dict[str, Any]  # the instance as stored in an entity, plus instanceId


@dataclass
class TimeWindow:
    """timerel on one time property; bounds in epoch seconds (before/after strict, between half-open)."""

    timeproperty: str = "observedAt"  # observedAt | createdAt | modifiedAt | deletedAt
    after: float | None = None
    after_inclusive: bool = False  # between includes its start; after is strict
    before: float | None = None
    last_n: int | None = None


@dataclass
class ApiKey:
    """A stored API key: never the key itself, only the hash of its secret."""

    key_id: str
    name: str
    hash: str
    roles: list[str]
    tenants: list[str] | None
    created_at: str
    expires_at: str | None = None
    revoked_at: str | None = None
    last_used_at: str | None = None


@dataclass
class Rejection:
    """A message ingest did not store (outcome "rejected") or stored with a warning ("flagged"), and why."""

    tenant: str
    source: str
    outcome: str
    reason: str
    payload: str  # the raw message as received, for replay
    received_at: str
    seq: int = 0
    replayed_at: str | None = None


def chain_hash(previous: str, doc: str) -> str:
    """An audit record's hash: it covers the record and the hash before it, so no record can change unseen."""
    return hashlib.sha256((previous + "\n" + doc).encode()).hexdigest()


GENESIS = "0" * 64  # the hash before the first audit record


@dataclass(frozen=True)
class PruneScope:
    """The instances a retention rule covers: one tenant or every one, one entity type or every one."""

    tenant: str | None = None
    type: str | None = None

    def within(self, other: PruneScope) -> bool:
        """True when every instance of this scope is also in `other`."""
        return (other.tenant is None or other.tenant == self.tenant) and (other.type is None or other.type == self.type)


class WriteTransaction(Protocol):
    """Writes of one transaction; all of them commit together or none does."""

    async def prefetch(self, entity_ids: list[str]) -> None: ...  # read (and lock) these entities in one go
    async def get(self, entity_id: str) -> Entity | None: ...
    async def insert(self, entity: Entity) -> bool: ...  # False when the id exists
    # insert one that must be new, maybe without reading first: AlreadyExists at once or when the transaction writes
    async def create(self, entity: Entity) -> None: ...
    async def replace(self, entity: Entity) -> None: ...
    async def delete(self, entity_id: str) -> bool: ...
    async def delete_matching(self, query: EntityQuery) -> int: ...
    async def subscriptions(self) -> list[dict[str, Any]]: ...  # the tenant's, maybe as a cache checked by flush
    async def add_outbox(self, rows: list[OutboxRow]) -> None: ...
    # Write what is held now. False when the tenant's subscriptions changed since subscriptions() answered: the
    # outbox rows held were then not written; read subscriptions() again and add the rows anew. `last`: no
    # statement of the transaction follows (a store may then send the write as its whole transaction).
    async def flush(self, last: bool = False) -> bool: ...
    async def add_history(self, rows: list[HistoryRow], upsert: bool = False) -> None: ...
    async def delete_history(
        self,
        entity_id: str,
        attr: str | None = None,
        dataset_id: str | None = None,
        every_dataset: bool = True,
        instance_id: str | None = None,
    ) -> int: ...
    async def replace_history_instance(self, row: HistoryRow) -> bool: ...


class Inserts(Protocol):
    async def insert(self, entity: Entity) -> bool: ...


async def create_by_insert(tx: Inserts, entity: Entity) -> None:
    """`create` for a transaction that reads before it writes: the insert, or AlreadyExists."""
    if not await tx.insert(entity):
        raise AlreadyExists(f"entity {entity['id']} already exists")


class EntityStore(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...
    def transaction(self, tenant: str) -> AbstractAsyncContextManager[WriteTransaction]: ...
    async def get(self, tenant: str, entity_id: str) -> Entity | None: ...
    async def query(self, query: EntityQuery) -> QueryResult: ...
    # discovery: only entities inside the fence count (None: every entity)
    async def types(
        self, tenant: str, type_iri: str | None = None, fence: list[Selector] | None = None
    ) -> list[TypeInfo]: ...
    async def attributes(
        self, tenant: str, attr_iri: str | None = None, fence: list[Selector] | None = None
    ) -> list[AttributeInfo]: ...
    # the names alone (in the database's order): the lists of /types and /attributes, without visiting every entity
    async def type_names(self, tenant: str, fence: list[Selector] | None = None) -> list[str]: ...
    async def attribute_names(self, tenant: str, fence: list[Selector] | None = None) -> list[str]: ...
    async def tenant_exists(self, tenant: str) -> bool: ...
    async def reset(self) -> None: ...
    # subscriptions (expanded documents)
    async def insert_subscription(self, tenant: str, doc: dict[str, Any]) -> bool: ...  # False when the id exists
    async def replace_subscription(self, tenant: str, doc: dict[str, Any]) -> bool: ...  # False when missing
    async def get_subscription(self, tenant: str, sub_id: str) -> dict[str, Any] | None: ...
    async def list_subscriptions(
        self,
        tenant: str,
        limit: int,
        offset: int,
        owner: str | None = None,  # owner: only its own (None: all)
    ) -> tuple[list[dict[str, Any]], int]: ...
    async def delete_subscription(self, tenant: str, sub_id: str) -> bool: ...
    # a delivery's steps in the subscription's status: sent (counted before the attempt), then ok or failed
    async def record_delivery(self, tenant: str, sub_id: str, step: str, at: str) -> None: ...  # sent|ok|failed
    # delivered rows: finish them and count each subscription's success, together (rows gone already count nothing)
    async def delivered(self, rows: list[OutboxRow], at: str) -> None: ...
    # the outbox: claim due rows for `lease` seconds, then finish (delete) or retry them
    # claimed rows count as sent (timesSent, lastNotification = `at`): a receiver sees its notification counted
    async def claim_outbox(self, now: float, lease: float, limit: int, at: str) -> list[OutboxRow]: ...
    async def finish_outbox(self, seq: int) -> None: ...
    async def retry_outbox(self, seq: int, next_at: float, error: str) -> None: ...
    async def outbox_size(self) -> int: ...
    async def periodic_subscriptions(self) -> list[tuple[str, dict[str, Any]]]: ...  # (tenant, doc), every tenant
    async def claim_periodic(self, tenant: str, sub_id: str, now: float, next_at: float) -> bool: ...
    # history: entity ids (paged, filtered in SQL), their instances, and aggregations
    async def history_entities(
        self, query: EntityQuery, window: TimeWindow
    ) -> tuple[list[tuple[str, list[str]]], int | None]: ...
    async def history(
        self, tenant: str, entity_ids: list[str], attrs: list[str] | None, window: TimeWindow
    ) -> list[HistoryRow]: ...
    async def aggregate(
        self,
        tenant: str,
        entity_ids: list[str],
        attrs: list[str] | None,
        window: TimeWindow,
        start: float | None,  # where the first period begins; None: at each attribute's first instance
        period: float,
        distinct: bool,  # count distinct values too (costs a sort)
    ) -> list[Aggregate]: ...
    async def prune_history(self, scope: PruneScope, cutoff: float, spared: list[PruneScope]) -> int: ...
    async def maintain_history(self, now: float) -> None: ...  # e.g. create the coming time partitions
    # security: API keys, named secrets (the local issuer's key), the hash-chained audit log
    async def put_api_key(self, key: ApiKey) -> None: ...
    async def get_api_key(self, key_id: str) -> ApiKey | None: ...
    async def list_api_keys(self) -> list[ApiKey]: ...
    async def revoke_api_key(self, key_id: str, at: str) -> bool: ...
    async def touch_api_key(self, key_id: str, at: str) -> None: ...
    async def put_policy(self, policy_id: str, doc: str, at: str) -> None: ...  # insert or replace
    async def list_policies(self) -> list[tuple[str, str]]: ...  # (id, JSON doc)
    async def delete_policy(self, policy_id: str) -> bool: ...
    async def secret(self, name: str, make: Callable[[], str]) -> str: ...  # the stored value, made once
    async def append_audit(self, docs: list[str]) -> None: ...  # JSON texts, chained in commit order
    async def audit_log(self, after: int, limit: int) -> list[tuple[int, str, str]]: ...  # (seq, doc, hash)
    # hosted and cached @context documents (tenant-independent)
    # ingest: run-time data models, shared source configs and their status, the rejection log
    async def put_model(self, type_name: str, doc: str, at: str) -> None: ...
    async def list_models(self) -> list[tuple[str, str]]: ...  # (type, JSON doc)
    async def put_source(self, name: str, config: str, at: str) -> None: ...
    async def delete_source(self, name: str) -> bool: ...
    async def list_sources(self) -> list[tuple[str, str]]: ...  # (name, TOML text)
    async def save_status(self, name: str, doc: str, at: str) -> None: ...
    async def list_status(self) -> list[tuple[str, str]]: ...  # (name, JSON doc)
    async def add_rejections(self, rows: list[Rejection]) -> None: ...
    async def rejections(
        self, source: str | None, after: int, limit: int, pending: bool, tenants: list[str] | None = None
    ) -> list[Rejection]: ...  # tenants: only these (None: every tenant)
    async def mark_replayed(self, seqs: list[int], at: str) -> None: ...
    async def try_lead(self, role: str) -> bool: ...  # True while this process holds `role` (held until close)

    async def put_context(self, item: StoredContext) -> None: ...
    async def get_context(self, context_id: str) -> StoredContext | None: ...
    async def list_contexts(self) -> list[StoredContext]: ...
    async def delete_context(self, context_id: str) -> bool: ...


def single_type(query: EntityQuery) -> str | None:
    """The one type IRI a query is restricted to, when its type filter is a single name."""
    if query.types is not None and len(query.types.alternatives) == 1 and len(query.types.alternatives[0]) == 1:
        return query.types.alternatives[0][0]
    return None


def only_type_filter(query: EntityQuery) -> bool:
    """True when nothing but one type (and the default order) selects the entities: deep pages can seek."""
    others = (
        query.ids,
        query.id_pattern,
        query.selectors,
        query.attrs,
        query.q,
        query.scope_q,
        query.geo,
        query.order_by,
        query.fence,
    )
    return single_type(query) is not None and all(value is None for value in others)


# Discovery lists ({p} as below). Type names come from the type counters that every write keeps; attribute
# names from one index probe per name (each step seeks the next name), not from a walk of every attribute row
TYPE_NAMES = "SELECT type FROM type_buckets WHERE tenant = {p}1 GROUP BY type HAVING sum(n) > 0 ORDER BY type"
ATTRIBUTE_NAMES = """
WITH RECURSIVE names (attr) AS (
    SELECT min(attr) FROM entity_attrs WHERE tenant = {p}1
    UNION ALL
    SELECT (SELECT min(a.attr) FROM entity_attrs a WHERE a.tenant = {p}1 AND a.attr > names.attr)
    FROM names WHERE names.attr IS NOT NULL
)
SELECT attr FROM names WHERE attr IS NOT NULL
"""


# discovery of a whole tenant, from the counters ({p}: the backend's placeholder sign; {one}: one type or
# attribute, `AND type = {p}2` or `AND attr = {p}2`, or nothing); PostgreSQL counts in shards, hence the sums
TYPE_COUNTS = "SELECT type, sum(n) FROM type_buckets WHERE tenant = {p}1{one} GROUP BY type HAVING sum(n) > 0"
TYPE_SHAPES = (
    "SELECT type, attr, atype FROM type_attrs WHERE tenant = {p}1{one} GROUP BY type, attr, atype HAVING sum(n) > 0"
)
ATTRIBUTE_COUNT = "SELECT count(DISTINCT seq) FROM entity_attrs WHERE tenant = {p}1 AND attr = {p}2"


def type_infos(counts: Iterable[Sequence[Any]], shape_rows: Iterable[Sequence[Any]]) -> list[TypeInfo]:
    """TypeInfo of each counted type (rows of TYPE_COUNTS), with its attributes (rows of TYPE_SHAPES)."""
    infos = {str(t): TypeInfo(str(t), int(n), {}) for t, n in counts}
    for type_name, attr, atype in shape_rows:
        if type_name in infos:
            infos[type_name].attributes.setdefault(attr, set()).add(atype)
    return [infos[name] for name in sorted(infos)]


def attribute_infos(shape_rows: Iterable[Sequence[Any]]) -> dict[str, AttributeInfo]:
    """AttributeInfo of each attribute in rows of TYPE_SHAPES, in name order, not counted."""
    infos: dict[str, AttributeInfo] = {}
    for type_name, attr, atype in sorted(shape_rows, key=lambda row: row[1]):
        info = infos.setdefault(attr, AttributeInfo(attr, None, set(), set()))
        info.attribute_types.add(atype)
        info.types.add(type_name)
    return infos


@dataclass(frozen=True)
class NameList:
    """How a store lists the names of one index table: at once, or (under a fence) over the fenced entities."""

    unfenced: str  # TYPE_NAMES or ATTRIBUTE_NAMES
    table: str  # the table and its alias
    column: str

    @property
    def alias(self) -> str:
        return self.table.split()[1]

    def fenced(self, where: str) -> str:
        return f"SELECT DISTINCT {self.column} FROM {self.table}{where} ORDER BY {self.column}"


TYPE_NAME_LIST = NameList(TYPE_NAMES, "entity_types t", "t.type")
ATTRIBUTE_NAME_LIST = NameList(ATTRIBUTE_NAMES, "entity_attrs a", "a.attr")


# one delivery attempt, counted in place ({p} is the backend's numbered-placeholder sign: $ or ?)
RECORD_DELIVERY = """
INSERT INTO subscription_stats
    (tenant, id, times_sent, times_failed, last_notification, last_success, last_failure, status)
SELECT {p}1, {p}2, CAST({p}3 AS INTEGER), CAST({p}4 AS INTEGER), {p}5, {p}6, {p}7, {p}8 {source}
WHERE EXISTS (SELECT 1 FROM subscriptions WHERE tenant = {p}1 AND id = {p}2)
ON CONFLICT (tenant, id) DO UPDATE SET
    times_sent = subscription_stats.times_sent + excluded.times_sent,
    times_failed = subscription_stats.times_failed + excluded.times_failed,
    last_notification = coalesce(excluded.last_notification, subscription_stats.last_notification),
    last_success = coalesce(excluded.last_success, subscription_stats.last_success),
    last_failure = coalesce(excluded.last_failure, subscription_stats.last_failure),
    status = coalesce(excluded.status, subscription_stats.status)
"""


def delivery_step(tenant: str, sub_id: str, step: str, at: str, sent: int = 1) -> tuple[Any, ...]:
    """RECORD_DELIVERY's parameters for one step of a delivery: sent (before; `sent` at once), ok or failed."""
    return (
        tenant,
        sub_id,
        sent if step == "sent" else 0,
        1 if step == "failed" else 0,
        at if step == "sent" else None,
        at if step == "ok" else None,
        at if step == "failed" else None,
        None if step == "sent" else step,
    )


STATS_COLUMNS = "st.times_sent, st.times_failed, st.last_notification, st.last_success, st.last_failure, st.status"
STATS_JOIN = "LEFT JOIN subscription_stats st ON st.tenant = s.tenant AND st.id = s.id"


def with_stats(doc: dict[str, Any], stats: Any) -> dict[str, Any]:
    """A subscription document with its delivery counters (a subscription_stats row, or Nones) filled in."""
    times_sent, times_failed, last_notification, last_success, last_failure, status = stats
    if times_sent is None:
        return doc
    notification = doc.setdefault("notification", {})
    notification["timesSent"] = int(times_sent)
    if times_failed:
        notification["timesFailed"] = int(times_failed)
    for key, value in (
        ("lastNotification", last_notification),
        ("lastSuccess", last_success),
        ("lastFailure", last_failure),
        ("status", status),
    ):
        if value is not None:
            notification[key] = value
    return doc


def attribute_rows(entity: Entity) -> list[tuple[str, str]]:
    """(attribute IRI, attribute type) pairs of an entity, one per attribute and type."""
    rows: set[tuple[str, str]] = set()
    for iri, instances in entity.get("attrs", {}).items():
        for inst in instances:
            rows.add((iri, inst.get("type", "Property")))
    return sorted(rows)


Shape = tuple[str, str, str]  # (entity type, attribute IRI, attribute type): a row of the type_attrs counts


def shapes(types: Iterable[str], attributes: Iterable[tuple[str, str]]) -> list[Shape]:
    """The type_attrs rows that an entity of these types with these (attribute, attribute type) pairs counts in."""
    pairs = list(attributes)
    return [(t, attr, atype) for t in set(types) for attr, atype in pairs]


_VALUE_MEMBERS = {
    "Property": "value",
    "Relationship": "object",
    "VocabProperty": "vocab",
    "LanguageProperty": "languageMap",
}
_SQL_OPERATORS = {"==": "=", ">": ">", ">=": ">=", "<": "<", "<=": "<="}


def indexed_part(instances: list[dict[str, Any]] | None) -> list[tuple[Any, ...]] | None:
    """What an attribute's index rows (attribute_rows, value_rows, geo_rows) are made of: each instance's type and
    value members. Two versions with the same indexed part have the same index rows, whatever their timestamps."""
    if instances is None:
        return None
    return [(i.get("type"), i.get("value"), i.get("object"), i.get("vocab"), i.get("languageMap")) for i in instances]


def value_rows(entity: Entity) -> list[tuple[str, float | None, str | None]]:
    """(attribute IRI, number, string) of every scalar an attribute's q comparison looks at, for the value index.

    The scalars are those of the attribute's instances' value (an array's elements, a typed literal's @value),
    object, vocab and languageMap members; booleans and structured values are left to the JSON comparison.
    """
    rows: set[tuple[str, float | None, str | None]] = set()
    for iri, instances in entity.get("attrs", {}).items():
        for inst in instances:
            member = _VALUE_MEMBERS.get(inst.get("type", "Property"))
            if member is None:
                continue
            value = inst.get(member)
            if isinstance(value, dict):
                value = list(value.values()) if member == "languageMap" else value.get("@value")
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, bool):
                    continue
                if isinstance(item, (int, float)):
                    rows.add((iri, float(item), None))
                elif isinstance(item, str):
                    rows.add((iri, None, item))
    return sorted(rows, key=lambda row: (row[0], row[1] is None, row[1] or 0.0, row[2] or ""))


def indexed_comparison(node: Comparison) -> tuple[str, str, list[Any]] | None:
    """(value-index column, SQL operator, parameters) of a comparison the value index can answer, else None."""
    value = node.value
    if node.op in ("!=", "~=", "!~="):
        return None
    if isinstance(value, Range):
        values, operator = [value.low, value.high], "BETWEEN"
    elif isinstance(value, tuple):
        values, operator = list(value), "IN"
    else:
        values, operator = [value], _SQL_OPERATORS[node.op]
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return "num", operator, [float(v) for v in values]
    if all(isinstance(v, str) for v in values):
        return "txt", operator, values
    return None


def indexed_comparisons(node: QNode | None) -> list[Comparison]:
    """The comparisons of a q expression that the value index can answer."""
    if node is None:
        return []
    if isinstance(node, Comparison):
        return [node] if not node.path.sub and not node.path.keys and indexed_comparison(node) else []
    return [c for item in getattr(node, "items", ()) for c in indexed_comparisons(item)]


def geo_rows(entity: Entity) -> list[tuple[str, dict[str, Any]]]:
    """(attribute IRI, geometry) of every GeoProperty instance of an entity."""
    rows = []
    for iri, instances in entity.get("attrs", {}).items():
        for inst in instances:
            if inst.get("type") == "GeoProperty" and isinstance(inst.get("value"), dict):
                rows.append((iri, inst["value"]))
    return rows
