"""Writes checked against the data-model registry, per tenant: strict (refuse), warn (store and flag) or off."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dosi.errors import ModelViolation
from dosi.models.registry import ModelRegistry
from dosi.store.base import Rejection

MODES = ("strict", "warn", "off")


@dataclass
class Flag:
    """An entity stored although it does not fit its model (mode warn)."""

    entity_id: str
    problems: list[str]
    entity: dict[str, Any] = field(repr=False)


class Validation:
    def __init__(self, registry: ModelRegistry, default: str = "off", tenants: dict[str, str] | None = None):
        self.registry = registry
        self.default = default
        self.tenants = dict(tenants or {})
        for mode in [default, *self.tenants.values()]:
            if mode not in MODES:
                raise ValueError(f"validation mode must be one of {', '.join(MODES)}, not {mode!r}")

    def mode(self, tenant: str) -> str:
        return self.tenants.get(tenant, self.default)

    def check(self, entity: dict[str, Any], mode: str) -> Flag | None:
        """Raises ModelViolation in strict mode; returns what to flag in warn mode."""
        if mode == "off":
            return None
        problems = self.registry.problems(entity)
        if not problems:
            return None
        if mode == "strict":
            raise ModelViolation(f"entity {entity['id']} does not fit its data model: {'; '.join(problems)}")
        return Flag(entity["id"], problems, entity)


def flagged(tenant: str, source: str, problems: list[str], payload: str, now: str) -> Rejection:
    """The rejection-log entry of something stored although it does not fit its model (mode warn)."""
    return Rejection(tenant, source, "flagged", f"stored with warnings: {'; '.join(problems)}", payload, now)
