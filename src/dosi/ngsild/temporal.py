"""The temporal representation: time windows, durations, and rendering instances over time."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from dosi.errors import BadRequestData
from dosi.ngsild.context import ActiveContext
from dosi.ngsild.model import VALUE_KEY, is_datetime
from dosi.ngsild.render import SIMPLIFIED, Renderer, View

TIME_PROPERTIES = ("observedAt", "createdAt", "modifiedAt", "deletedAt")
AGGREGATIONS = ("totalCount", "distinctCount", "sum", "avg", "min", "max", "stddev", "sumsq")
# temporalValues: attribute type -> (member name, how one instance's value is shown)
SIMPLIFIED_MEMBER = {
    "Property": "values",
    "GeoProperty": "values",
    "Relationship": "objects",
    "LanguageProperty": "languageMaps",
    "JsonProperty": "jsons",
    "VocabProperty": "vocabs",
    "ListProperty": "valueLists",
    "ListRelationship": "objectLists",
}
_DURATION = re.compile(
    r"^P(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)
# years and months have no fixed length: they count as 365 and 30 days
_UNIT_SECONDS = (365 * 86400, 30 * 86400, 7 * 86400, 86400, 3600, 60, 1)


MAX_LAST_N = 2**31 - 1  # beyond any history; larger values would overflow the stores' integers


@functools.lru_cache(maxsize=4096)  # a batch's writes share one `now`, and each reading's time is read several times
def epoch(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).timestamp()


def iso(ts: float) -> str:
    moment = datetime.fromtimestamp(ts, UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


def parse_duration(text: str) -> float:
    match = _DURATION.match(text)
    if not match or text in ("P", "PT") or text.endswith("T"):
        raise BadRequestData(f"aggrPeriodDuration {text!r} is not an ISO 8601 duration")
    seconds = sum(float(part) * unit for part, unit in zip(match.groups(), _UNIT_SECONDS, strict=True) if part)
    if seconds <= 0:
        raise BadRequestData("aggrPeriodDuration must be longer than zero")
    return seconds


def parse_window(params: Mapping[str, Any]) -> tuple[str | None, float | None, float | None, str, int | None]:
    """(timerel, timeAt, endTimeAt, timeproperty, lastN) from query parameters or a temporalQ."""
    timerel = params.get("timerel")
    timeproperty = params.get("timeproperty") or "observedAt"
    if timeproperty not in TIME_PROPERTIES:
        raise BadRequestData(f"timeproperty must be one of {', '.join(TIME_PROPERTIES)}")
    time_at = end_at = None
    if timerel is not None:
        if timerel not in ("before", "after", "between"):
            raise BadRequestData("timerel must be before, after or between")
        raw_at = params.get("timeAt")
        if not is_datetime(raw_at):
            raise BadRequestData("timerel needs timeAt as an ISO 8601 date-time")
        time_at = epoch(str(raw_at))
        if timerel == "between":
            raw_end = params.get("endTimeAt")
            if not is_datetime(raw_end):
                raise BadRequestData("timerel=between needs endTimeAt as an ISO 8601 date-time")
            end_at = epoch(str(raw_end))
            if end_at <= time_at:
                raise BadRequestData("endTimeAt must be after timeAt")
    elif params.get("timeAt") is not None or params.get("endTimeAt") is not None:
        raise BadRequestData("timeAt and endTimeAt need timerel")
    last_n = None
    if params.get("lastN") is not None:
        try:
            last_n = int(params["lastN"])
        except (TypeError, ValueError):
            raise BadRequestData("lastN must be a positive integer") from None
        if not 1 <= last_n <= MAX_LAST_N:
            raise BadRequestData(f"lastN must be a positive integer up to {MAX_LAST_N}")
    return timerel, time_at, end_at, timeproperty, last_n


class TemporalRenderer:
    """Renders one entity's instances (internal form, each with instanceId) for a client."""

    def __init__(self, ctx: ActiveContext, view: View, timeproperty: str):
        self.ctx = ctx
        self.view = view
        self.timeproperty = timeproperty
        self.renderer = Renderer(ctx, View(form="normalized", sys_attrs=view.sys_attrs, lang=view.lang))

    def head(self, entity_id: str, types: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        members = self.view.pick_members
        if (members is None or "id" in members) and "id" not in self.view.omit:
            out["id"] = entity_id
        if (members is None or "type" in members) and "type" not in self.view.omit:
            names = [self.ctx.compact(t) for t in types]
            out["type"] = names[0] if len(names) == 1 else names
        return out

    def keep(self, attr: str) -> bool:
        return (self.view.attrs is None or attr in self.view.attrs) and attr not in self.view.omit

    def instance(self, doc: dict[str, Any]) -> dict[str, Any]:
        shown = self.renderer.attribute(doc)
        if isinstance(shown, dict):
            shown["instanceId"] = doc["instanceId"]
            if "deletedAt" in doc:
                shown["deletedAt"] = doc["deletedAt"]
        return shown

    def normalized(self, instances: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [self.instance(doc) for doc in instances]

    def simplified(self, instances: list[dict[str, Any]]) -> Any:
        """temporalValues: one object per dataset, {type, datasetId?, values: [[value, time], ...]}."""
        groups: dict[str | None, list[dict[str, Any]]] = {}
        for doc in instances:
            groups.setdefault(doc.get("datasetId"), []).append(doc)
        out = []
        for dataset_id, docs in groups.items():
            atype = docs[0].get("type", "Property")
            member = SIMPLIFIED_MEMBER.get(atype, "values")
            item: dict[str, Any] = {"type": atype}
            if dataset_id is not None:
                item["datasetId"] = dataset_id
            item[member] = [[self._simple_value(doc), doc.get(self.timeproperty)] for doc in docs]
            out.append(item)
        return out[0] if len(out) == 1 else out

    def _simple_value(self, doc: dict[str, Any]) -> Any:
        atype = doc.get("type", "Property")
        key = VALUE_KEY.get(atype, "value")
        value = doc.get(key)
        if atype == "VocabProperty":
            value = [self.ctx.compact(v) for v in value] if isinstance(value, list) else self.ctx.compact(str(value))
        if atype in ("LanguageProperty", "JsonProperty", "VocabProperty"):
            return {key: value}
        return value

    def simplified_form(self) -> bool:
        return self.view.form == SIMPLIFIED


def finish_aggregates(
    methods: list[str], buckets: list[tuple[Any, ...]], start: float, period: float
) -> dict[str, list[list[Any]]]:
    """Turn per-bucket SQL sums into the aggregated representation: {method: [[value, from, to], ...]}."""
    out: dict[str, list[list[Any]]] = {m: [] for m in methods}
    for bucket, count, total, average, low, high, sumsq, distinct in buckets:
        begin = iso(start + int(bucket) * period)
        end = iso(start + (int(bucket) + 1) * period)
        values = {
            "totalCount": count,
            "distinctCount": distinct,
            "sum": total,
            "avg": average,
            "min": low,
            "max": high,
            "sumsq": sumsq,
            "stddev": math.sqrt(max(0.0, sumsq / count - average * average))
            if count and sumsq is not None and average is not None
            else None,
        }
        for method in methods:
            value = values[method]
            if value is not None:
                out[method].append(
                    [float(value) if method not in ("totalCount", "distinctCount") else value, begin, end]
                )
    return out
