"""A source's mapping table: how one record of the source becomes one NGSI-LD entity. Pure: no I/O.

A mapping is data (a TOML table), never code:

    [mapping]
    type = "AirQualityObserved"
    id = "urn:ngsi-ld:AirQualityObserved:{stationName}"
    observed_at = { field = "dataTime", format = "%Y-%m-%d %H:%M", timezone = "Asia/Seoul" }
    location = { lat = "dmY", lon = "dmX" }

    [mapping.attributes]
    pm25 = { field = "pm25Value", function = "number", unit = "GQ" }
    name = { field = "stationName" }

Fields are dotted paths into the record (`a.b.0`); templates fill `{path}` from the record. A record that
cannot be mapped raises `Rejected` with a reason a person can act on.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dosi.ingest.functions import FUNCTIONS, Missing
from dosi.ingest.units import UnknownUnit, convert

_TEMPLATE = re.compile(r"\{([^{}]+)\}")


class Rejected(ValueError):
    """A message or record that cannot be stored, and why (kept in the rejection log)."""


class MappingError(ValueError):
    """A mapping table that cannot be used (found when the source is loaded, not per message)."""


def lookup(record: Any, path: str) -> Any:
    """The value at a dotted path (`a.b.0`), or Missing."""
    value = record
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            return Missing
    return value


def fill(template: str, record: Any) -> str:
    def one(match: re.Match[str]) -> str:
        value = lookup(record, match.group(1).strip())
        if value is Missing or value is None or value == "":
            raise Rejected(f"no value for {{{match.group(1)}}} / {{{match.group(1)}}} 값이 없습니다")
        return re.sub(r"[\s<>\"'=;()\\]", "_", str(value))  # characters an NGSI-LD id may not hold

    return _TEMPLATE.sub(one, template)


@dataclass(frozen=True)
class AttributeMap:
    name: str
    field: str | None = None  # dotted path; None: `value` is constant
    value: Any = None
    template: str | None = None  # `{path}` filled from the record, e.g. a relationship's target id
    function: str = "auto"
    args: tuple[Any, ...] = ()
    unit: str | None = None  # the source's unit (UN/CEFACT code), converted to `target_unit`
    unit_field: str | None = None  # a field naming the unit per message
    target_unit: str | None = None  # the model's unit
    kind: str = "Property"  # Property | Relationship
    optional: bool = True  # a missing field leaves the attribute out; False rejects the record
    observed: bool = True  # a reading: it carries the record's observedAt (a constant describes, it is not read)

    @classmethod
    def from_table(cls, name: str, table: Any, target_unit: str | None, kind: str) -> AttributeMap:
        if isinstance(table, str):
            table = {"field": table}
        if not isinstance(table, dict):
            raise MappingError(f"attribute {name}: expected a field name or a table")
        function = str(table.get("function", "auto"))
        args: tuple[Any, ...] = ()
        if "map" in table:
            function, args = "map", (dict(table["map"]),)
        elif "scale" in table:
            function, args = "scale", (float(table["scale"]),)
        elif "round" in table:
            function, args = "round", (int(table["round"]),)
        if function not in FUNCTIONS:
            known = ", ".join(sorted(FUNCTIONS))
            raise MappingError(f"attribute {name}: unknown function {function!r}; known: {known}")
        if not {"field", "value", "template"} & set(table):
            raise MappingError(f"attribute {name}: give a field, a template or a constant value")
        observed = table.get("observed", "field" in table or "template" in table)
        if not isinstance(observed, bool):
            raise MappingError(f"attribute {name}: observed must be true or false")
        return cls(
            name=name,
            field=table.get("field"),
            value=table.get("value"),
            template=table.get("template"),
            function=function,
            args=args,
            unit=table.get("unit"),
            unit_field=table.get("unit_field"),
            target_unit=table.get("target_unit", target_unit),
            kind=str(table.get("kind", kind)),
            optional=not table.get("required", False),
            observed=observed,
        )

    def apply(self, record: Any) -> Any:
        if self.template is not None:
            raw: Any = fill(self.template, record)
        else:
            raw = self.value if self.field is None else lookup(record, self.field)
        try:
            value = FUNCTIONS[self.function](raw, *self.args)
        except (ValueError, TypeError) as err:
            raise Rejected(f"{self.name}: {err} (field {self.field})") from None
        if value is Missing:
            if self.optional:
                return Missing
            raise Rejected(f"{self.name}: missing field {self.field} / 필드 {self.field} 없음")
        unit = self.unit
        if self.unit_field is not None:
            given = lookup(record, self.unit_field)
            unit = None if given is Missing or given is None else str(given)
        if unit and self.target_unit and unit != self.target_unit:
            if not isinstance(value, int | float):
                raise Rejected(f"{self.name}: cannot convert a non-number from {unit}")
            try:
                value = convert(value, unit, self.target_unit)
            except UnknownUnit as err:
                raise Rejected(f"{self.name}: {err}") from None
        return value


@dataclass(frozen=True)
class TimeSpec:
    field: str  # a dotted path, or "$now"
    format: str = "iso"  # iso | epoch | epoch_ms | a strptime format
    timezone: str = "UTC"  # for times written without an offset

    def apply(self, record: Any) -> str:
        if self.field == "$now":  # the source gives no time (e.g. live status APIs): the time of receipt
            return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        raw = lookup(record, self.field)
        if raw is Missing or raw in (None, ""):
            raise Rejected(f"no time in field {self.field} / 시각 필드 {self.field} 없음")
        try:
            if self.format in ("epoch", "epoch_ms"):
                seconds = float(raw) / (1000 if self.format == "epoch_ms" else 1)
                moment = datetime.fromtimestamp(seconds, UTC)
            elif self.format == "iso":
                moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
            else:
                moment = datetime.strptime(str(raw).strip(), self.format)
        except (ValueError, OverflowError, OSError):
            raise Rejected(f"unreadable time {raw!r} in field {self.field} (format {self.format})") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(self.timezone))
        return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Join:
    """Reference rows (a CSV file) added to each record whose `key` field equals the row's `on` column.

    `file` is a path, or `package:dosi.demo/data/seoul_stations.csv` for data shipped with Dosi.
    """

    key: str
    rows: dict[str, dict[str, str]]
    required: bool = True  # a record with no reference row is rejected

    @classmethod
    def from_table(cls, table: Any) -> Join:
        try:
            path, key = str(table["file"]), str(table["key"])
        except (KeyError, TypeError):
            raise MappingError("[mapping.join] needs file and key") from None
        on = str(table.get("on", key))
        try:
            text = _read_reference(path)
        except OSError as err:
            raise MappingError(f"[mapping.join] cannot read {path}: {err}") from None
        rows = {row[on].strip(): row for row in csv.DictReader(io.StringIO(text)) if row.get(on)}
        if not rows:
            raise MappingError(f"[mapping.join] {path} has no rows with a column {on!r}")
        return cls(key, rows, bool(table.get("required", True)))

    def apply(self, record: dict[str, Any]) -> dict[str, Any]:
        value = lookup(record, self.key)
        row = self.rows.get(str(value).strip()) if value is not Missing else None
        if row is None:
            if self.required:
                raise Rejected(f"no reference row for {self.key} = {value!r} / 기준 정보에 없는 값입니다")
            return record
        return {**row, **record}


def _read_reference(path: str) -> str:
    if path.startswith("package:"):
        package, _, name = path.removeprefix("package:").partition("/")
        return resources.files(package).joinpath(name).read_text(encoding="utf-8")
    return Path(path).read_text(encoding="utf-8-sig")


@dataclass(frozen=True)
class Mapping:
    type: str
    id: str
    attributes: tuple[AttributeMap, ...]
    observed_at: TimeSpec | None = None
    location: tuple[str, str] | None = None  # (lat field, lon field)
    records: str | None = None  # dotted path to the list of records in a message; None: the message is a record
    context: dict[str, str] = field(default_factory=dict)  # the model's terms, written with each entity
    join: Join | None = None  # reference data added to each record (e.g. station positions)

    @classmethod
    def from_table(cls, table: Any, model: Any | None = None) -> Mapping:
        """From the [mapping] table; `model` (a DataModel, when the type has one) gives units, kinds and terms."""
        if not isinstance(table, dict):
            raise MappingError("[mapping] must be a table")
        try:
            entity_type, id_template = str(table["type"]), str(table["id"])
        except KeyError as err:
            raise MappingError(f"[mapping] needs {err}") from None
        specs = model.attributes if model is not None else {}
        attributes = []
        for name, spec in dict(table.get("attributes", {})).items():
            described = specs.get(name)
            unit = described.unit_code if described is not None else None
            kind = described.kind if described is not None and described.kind == "Relationship" else "Property"
            attributes.append(AttributeMap.from_table(name, spec, unit, kind))
        if not attributes:
            raise MappingError("[mapping.attributes] is empty")
        observed = table.get("observed_at")
        if isinstance(observed, str):
            observed = {"field": observed}
        location = table.get("location")
        if observed is not None:
            try:
                ZoneInfo(str(observed.get("timezone", "UTC")))
            except (ZoneInfoNotFoundError, ValueError):
                raise MappingError(f"unknown timezone {observed.get('timezone')!r}") from None
        return cls(
            type=entity_type,
            id=id_template,
            attributes=tuple(attributes),
            observed_at=TimeSpec(**observed) if observed is not None else None,
            location=(str(location["lat"]), str(location["lon"])) if location else None,
            records=table.get("records"),
            context=model.context() if model is not None else {},
            join=Join.from_table(table["join"]) if "join" in table else None,
        )

    def records_of(self, message: Any) -> list[Any]:
        """The records one parsed message holds."""
        found = message if self.records is None else lookup(message, self.records)
        if found is Missing:
            raise Rejected(f"no records at {self.records} / {self.records} 경로에 레코드가 없습니다")
        if isinstance(found, dict) and self.records is not None:
            found = [found]  # XML and some APIs give a single item as an object
        return found if isinstance(found, list) else [found]

    def entity(self, record: Any) -> dict[str, Any]:
        """The NGSI-LD entity (normalized, with the model's terms) of one record."""
        if not isinstance(record, dict):
            raise Rejected(f"a record must be an object, not {type(record).__name__}")
        if self.join is not None:
            record = self.join.apply(record)
        entity: dict[str, Any] = {"id": fill(self.id, record), "type": self.type}
        observed = self.observed_at.apply(record) if self.observed_at is not None else None
        for attribute in self.attributes:
            value = attribute.apply(record)
            if value is Missing:
                continue
            if attribute.kind == "Relationship":
                entity[attribute.name] = {"type": "Relationship", "object": value}
            else:
                entity[attribute.name] = {"type": "Property", "value": value}
                if attribute.target_unit:
                    entity[attribute.name]["unitCode"] = attribute.target_unit
            if observed is not None and attribute.observed:
                entity[attribute.name]["observedAt"] = observed
        if self.location is not None:
            try:
                lat, lon = (FUNCTIONS["number"](lookup(record, f)) for f in self.location)
            except ValueError as err:
                raise Rejected(f"position: {err}") from None
            if lat is Missing or lon is Missing:
                raise Rejected(f"no position in fields {self.location[0]}, {self.location[1]}")
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise Rejected(f"position out of range: lat {lat}, lon {lon}")
            entity["location"] = {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}
        if len(entity) == 2:
            raise Rejected("no attribute of the mapping had a value / 매핑된 속성 값이 하나도 없습니다")
        return entity
