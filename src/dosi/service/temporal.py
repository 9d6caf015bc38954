"""Temporal use cases: history written by every change, and the /temporal API over it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dosi.errors import BadRequestData, ResourceNotFound
from dosi.ngsild import temporal as model
from dosi.ngsild.context import ActiveContext
from dosi.ngsild.model import SCOPE, is_uri, now_iso
from dosi.ngsild.parse import Parser, parse_types
from dosi.ngsild.render import View
from dosi.security.context import count_rows, current, fenced
from dosi.service import merge
from dosi.service.entities import check_id
from dosi.service.guard import guarded
from dosi.service.history import row_of, scope_instance, ts_of
from dosi.service.notify import Notifier
from dosi.store.base import Entity, EntityQuery, EntityStore, HistoryRow, TimeWindow, WriteTransaction


@dataclass
class TemporalRequest:
    window: TimeWindow
    view: View
    form: str  # normalized | temporalValues | aggregatedValues
    aggr_methods: list[str]
    aggr_period: float | None


class TemporalService:
    def __init__(self, store: EntityStore, notifier: Notifier, page_size: int):
        self.store = store
        self.notifier = notifier
        self.page_size = page_size  # instances per entity in one answer; more gives 206 + Content-Range

    # -- provision -------------------------------------------------------
    async def upsert(self, tenant: str, ctx: ActiveContext, body: Any) -> bool:
        """POST /temporal/entities: create, or add instances. True when the entity is new."""
        if not isinstance(body, dict):
            raise BadRequestData("a temporal entity must be a JSON object")
        now = now_iso()
        parsed = _temporal_parser(ctx, now).entity(body)
        rows = [
            row_of(parsed["id"], parsed["type"], attr, inst, now)
            for attr, instances in parsed["attrs"].items()
            for inst in instances
        ]
        async with guarded(self.store, tenant) as tx:
            exists = await self._exists(tenant, parsed["id"])
            current = await tx.get(parsed["id"])
            scope = scope_instance(current, parsed, now) if "scope" in parsed else None
            if scope is not None:
                rows.append(row_of(parsed["id"], parsed["type"], SCOPE, scope, now))
            await tx.add_history(rows, upsert=True)
            await _fold_into_current(tx, current, parsed, now)
        return not exists

    async def _exists(self, tenant: str, entity_id: str) -> bool:
        found, _ = await self.store.history_entities(EntityQuery(tenant=tenant, ids=[entity_id], limit=1), TimeWindow())
        return bool(found)

    async def add_attrs(self, tenant: str, ctx: ActiveContext, entity_id: str, body: Any) -> None:
        check_id(entity_id)
        if not isinstance(body, dict):
            raise BadRequestData("the attributes must be a JSON object")
        found, _ = await self.store.history_entities(EntityQuery(tenant=tenant, ids=[entity_id], limit=1), TimeWindow())
        if not found:
            raise ResourceNotFound(f"temporal entity {entity_id} not found")
        now = now_iso()
        types = parse_types(ctx, body["type"]) if "type" in body else found[0][1]
        attrs = _temporal_parser(ctx, now).attributes(body, skip=frozenset({"@context", "id", "type"}))
        rows = [row_of(entity_id, types, a, inst, now) for a, instances in attrs.items() for inst in instances]
        async with guarded(self.store, tenant) as tx:
            await tx.add_history(rows, upsert=True)
            current = await tx.get(entity_id)
            await _fold_into_current(tx, current, {"id": entity_id, "type": types, "attrs": attrs}, now)

    async def delete(self, tenant: str, entity_id: str) -> None:
        check_id(entity_id)
        async with guarded(self.store, tenant) as tx:
            if not await tx.delete_history(entity_id):
                raise ResourceNotFound(f"temporal entity {entity_id} not found")

    async def delete_attr(
        self, tenant: str, ctx: ActiveContext, entity_id: str, attr: str, dataset_id: str | None, delete_all: bool
    ) -> None:
        check_id(entity_id)
        iri = Parser(ctx, "").attr_name(attr)
        async with guarded(self.store, tenant) as tx:
            await self._require(tenant, entity_id)
            if not await tx.delete_history(entity_id, iri, dataset_id, every_dataset=delete_all):
                raise ResourceNotFound("the temporal entity has no such attribute instances")

    async def delete_instance(self, tenant: str, ctx: ActiveContext, entity_id: str, attr: str, instance: str) -> None:
        check_id(entity_id)
        iri = Parser(ctx, "").attr_name(attr)
        if not is_uri(instance):
            raise BadRequestData("instanceId must be a URI")
        async with guarded(self.store, tenant) as tx:
            await self._require(tenant, entity_id)
            if not await tx.delete_history(entity_id, iri, instance_id=instance):
                raise ResourceNotFound("no such instance")

    async def patch_instance(
        self, tenant: str, ctx: ActiveContext, entity_id: str, attr: str, instance: str, body: Any
    ) -> None:
        check_id(entity_id)
        iri = Parser(ctx, "").attr_name(attr)
        if not is_uri(instance):
            raise BadRequestData("instanceId must be a URI")
        if not isinstance(body, dict):
            raise BadRequestData("an instance must be a JSON object")
        rows = await self.store.history(tenant, [entity_id], [iri], TimeWindow())
        old = next((r for r in rows if r.instance_id == instance), None)
        if old is None:
            await self._require(tenant, entity_id)
            raise ResourceNotFound("no such instance")
        now = now_iso()
        fragment = {k: v for k, v in body.items() if k not in ("@context", "instanceId")}
        fragment.setdefault("type", old.doc.get("type", "Property"))
        parsed = Parser(ctx, now, partial=True).instance(iri, fragment)
        doc = {
            **old.doc,
            **parsed,
            "instanceId": instance,
            "createdAt": old.doc.get("createdAt", now),
            "modifiedAt": now,
        }
        async with guarded(self.store, tenant) as tx:
            await tx.replace_history_instance(row_of(entity_id, old.types, iri, doc, now))

    async def _require(self, tenant: str, entity_id: str) -> None:
        if not await self._exists(tenant, entity_id):
            raise ResourceNotFound(f"temporal entity {entity_id} not found")

    # -- consumption -----------------------------------------------------
    async def entities(
        self, query: EntityQuery, request: TemporalRequest, ctx: ActiveContext
    ) -> tuple[list[dict[str, Any]], int | None, tuple[str, str, str] | None]:
        """The temporal representation of the entities a query selects: (bodies, count, content range).
        Only entities the request may read are listed, with the attributes its grants show (in SQL: the union of
        the attributes its read grants name)."""
        access = current()
        ids, count = await self.store.history_entities(fenced(query), request.window)
        count_rows(len(ids))
        attrs = _within(query.attrs, access.any_attributes("read"))
        if attrs == []:  # none of the asked attributes is readable
            ids = []
        if request.form == "aggregatedValues":  # computed in SQL; the instances themselves are never loaded
            return await self._aggregated(query.tenant, ids, attrs, request, ctx), count, None
        rows = await self.store.history(query.tenant, [i for i, _ in ids], attrs, request.window) if ids else []
        by_entity: dict[str, list[HistoryRow]] = {}
        for row in rows:
            by_entity.setdefault(row.entity_id, []).append(row)
        bodies = []
        clipped = False
        times: list[str] = []
        for entity_id, types in ids:
            body, cut = await self._entity(
                query.tenant, entity_id, types, by_entity.get(entity_id, []), request, ctx, times
            )
            clipped = clipped or cut
            if body is not None:
                bodies.append(body)
        return bodies, count, (_content_range(request.window, times) if clipped else None)

    async def _entity(
        self,
        tenant: str,
        entity_id: str,
        types: list[str],
        rows: list[HistoryRow],
        request: TemporalRequest,
        ctx: ActiveContext,
        times: list[str],
    ) -> tuple[dict[str, Any] | None, bool]:
        renderer = model.TemporalRenderer(ctx, request.view, request.window.timeproperty)
        body = renderer.head(entity_id, types)
        by_attr: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            if renderer.keep(row.attr) and _dataset_ok(row, request.view.dataset_ids):
                by_attr.setdefault(row.attr, []).append(row.doc)
        cut = False
        kept_ids = _first_in_time(by_attr, request.window, self.page_size)
        descending = request.window.last_n is not None
        for attr, docs in by_attr.items():
            if descending:
                docs = list(reversed(docs))
            kept = [d for d in docs if id(d) in kept_ids]
            cut = cut or len(kept) < len(docs)
            times.extend(str(d.get(request.window.timeproperty)) for d in kept if d.get(request.window.timeproperty))
            name = ctx.compact(attr)
            body[name] = (
                renderer.simplified(kept)
                if request.form == "temporalValues" and kept
                else ([] if not kept else renderer.normalized(kept))
            )
        filtered = request.view.pick_members is None and request.view.attrs is not None
        if not by_attr and (filtered or request.view.dataset_ids is not None):
            return None, cut  # nothing of the entity is left once attrs / datasetId filter its instances
        return body, cut

    async def _aggregated(
        self,
        tenant: str,
        ids: list[tuple[str, list[str]]],
        attrs: list[str] | None,
        request: TemporalRequest,
        ctx: ActiveContext,
    ) -> list[dict[str, Any]]:
        """Every entity's aggregated representation, from one SQL aggregation over all of them."""
        renderer = model.TemporalRenderer(ctx, request.view, request.window.timeproperty)
        bodies = {entity_id: renderer.head(entity_id, types) for entity_id, types in ids}
        period = request.aggr_period or 10 * 365 * 86400.0
        distinct = "distinctCount" in request.aggr_methods
        found = await self.store.aggregate(
            tenant, list(bodies), attrs, request.window, request.window.after, period, distinct
        )
        for item in found:
            if renderer.keep(item.attr):
                bodies[item.entity_id][ctx.compact(item.attr)] = {
                    "type": item.attr_type,
                    **model.finish_aggregates(request.aggr_methods, item.buckets, item.start, period),
                }
        return list(bodies.values())


async def _fold_into_current(tx: WriteTransaction, current: Entity | None, given: dict[str, Any], now: str) -> None:
    """Instances recorded through the temporal API also move the entity's current state forward.

    Each attribute (per datasetId) takes its latest instance by observedAt, unless the entity already holds a
    later one, so that the entity and its history tell the same story (as the ETSI suite expects: a temporal
    entity can then be changed through the core API). No notification is sent for history written this way.
    """
    entity = current or {"id": given["id"], "type": list(given["type"]), "createdAt": now, "attrs": {}}
    entity["type"] = list(dict.fromkeys([*entity["type"], *given["type"]]))
    if "scope" in given:
        entity["scope"] = given["scope"]
    for attr, instances in given["attrs"].items():
        for inst in sorted(instances, key=lambda i: ts_of(i.get("observedAt")) or 0.0):
            held = next((i for i in entity["attrs"].get(attr, []) if i.get("datasetId") == inst.get("datasetId")), None)
            if held is not None and (ts_of(held.get("observedAt")) or 0.0) > (ts_of(inst.get("observedAt")) or 0.0):
                continue
            fresh = {k: v for k, v in inst.items() if k not in ("instanceId", "deletedAt", "createdAt", "modifiedAt")}
            merge.put_instance(entity, attr, fresh, now)
    entity["modifiedAt"] = now
    if current is None:
        await tx.insert(entity)
    else:
        await tx.replace(entity)


def _temporal_parser(ctx: ActiveContext, now: str) -> Parser:
    parser = Parser(ctx, now)
    parser.temporal = True
    return parser


def _first_in_time(by_attr: dict[str, list[dict[str, Any]]], window: TimeWindow, size: int) -> set[int]:
    """The instances one page holds: the earliest `size` over every attribute (the latest with lastN).

    Cutting the merged timeline, not each attribute in turn, keeps the page one unbroken time range,
    which the Content-Range header then names.
    """
    timeline = [
        (when, doc)
        for docs in by_attr.values()
        for doc in docs
        if (when := ts_of(doc.get(window.timeproperty)) or ts_of(doc.get("createdAt"))) is not None
    ]
    timeline.sort(key=lambda item: item[0], reverse=window.last_n is not None)
    return {id(doc) for _, doc in timeline[:size]}


def _within(asked: list[str] | None, allowed: frozenset[str] | None) -> list[str] | None:
    """The attributes to read: those asked for (None: all), within those allowed (None: all)."""
    if allowed is None:
        return asked
    return [a for a in asked if a in allowed] if asked is not None else sorted(allowed)


def _dataset_ok(row: HistoryRow, wanted: frozenset[str] | None) -> bool:
    return wanted is None or (row.dataset_id or "@none") in wanted


def _content_range(window: TimeWindow, times: list[str]) -> tuple[str, str, str]:
    ordered = sorted(times, key=model.epoch)
    least, most = (ordered[0], ordered[-1]) if ordered else ("*", "*")
    if window.last_n is not None:
        start = model.iso(window.before) if window.before is not None else most
        return start, least, str(window.last_n)
    start = model.iso(window.after) if window.after is not None else least
    return start, most, "*"
