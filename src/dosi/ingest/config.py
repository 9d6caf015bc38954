"""Source configs: one TOML document per source (a file, or stored in the hub so every worker shares it).

    name = "air-seoul"
    kind = "poll"            # mqtt | http | poll | file
    tenant = ""              # the NGSILD-Tenant the entities go to
    validation = "strict"    # strict | warn | off
    format = "json"          # json | ndjson | xml (csv for files)

    [poll]  /  [mqtt]  /  [http]   the connection (see each source)
    [mapping]                      see dosi.ingest.mapping

Values written `${env:NAME}` are read from the environment when the source starts, so service keys
stay out of configs and out of the database.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dosi.ingest.formats import FORMATS
from dosi.ingest.mapping import Mapping, MappingError
from dosi.models.registry import ModelRegistry

KINDS = ("mqtt", "http", "poll", "file")
_ENV = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class SourceConfig:
    name: str
    kind: str
    mapping: Mapping
    tenant: str = ""
    validation: str = "strict"
    format: str = "json"
    options: dict[str, Any] = field(default_factory=dict)  # the [mqtt] / [poll] / [http] / [file] table
    text: str = ""  # the TOML it was read from

    @classmethod
    def parse(cls, text: str, registry: ModelRegistry) -> SourceConfig:
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise MappingError(f"source config is not valid TOML: {err}") from None
        name, kind = str(doc.get("name", "")), str(doc.get("kind", ""))
        if not _NAME.match(name):
            raise MappingError(f"source name {name!r}: lower-case letters, digits, '-', '_' or '.', up to 64")
        if kind not in KINDS:
            raise MappingError(f"source {name}: kind must be one of {', '.join(KINDS)}")
        validation = str(doc.get("validation", "strict"))
        if validation not in ("strict", "warn", "off"):
            raise MappingError(f"source {name}: validation must be strict, warn or off")
        fmt = str(doc.get("format", "json"))
        if kind != "file" and fmt not in FORMATS:
            raise MappingError(f"source {name}: format must be one of {', '.join(FORMATS)}")
        table = doc.get("mapping")
        model = registry.get(str(table.get("type", ""))) if isinstance(table, dict) else None
        try:
            return cls(
                name=name,
                kind=kind,
                mapping=Mapping.from_table(table, model),
                tenant=str(doc.get("tenant", "")),
                validation=validation,
                format=fmt,
                options=dict(doc.get(kind, {})),
                text=text,
            )
        except (TypeError, ValueError, KeyError, AttributeError) as err:
            if isinstance(err, MappingError):
                raise
            raise MappingError(f"source {name}: a table of the wrong shape ({type(err).__name__}: {err})") from None

    def option(self, key: str, default: Any = None) -> Any:
        """An option of the connection table, with `${env:NAME}` filled from the environment."""
        return _with_env(self.options.get(key, default))


def _with_env(value: Any) -> Any:
    if isinstance(value, str):

        def one(match: re.Match[str]) -> str:
            found = os.environ.get(match.group(1))
            if found is None:
                raise MappingError(f"environment variable {match.group(1)} is not set / 환경 변수가 없습니다")
            return found

        return _ENV.sub(one, value)
    if isinstance(value, dict):
        return {k: _with_env(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_env(v) for v in value]
    return value


def load_files(path: str, registry: ModelRegistry) -> list[SourceConfig]:
    """The configs in a TOML file, or in every *.toml of a folder."""
    if not path:
        return []
    target = Path(path)
    files = sorted(target.glob("*.toml")) if target.is_dir() else [target]
    return [SourceConfig.parse(f.read_text(encoding="utf-8"), registry) for f in files]
