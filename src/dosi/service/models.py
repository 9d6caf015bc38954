"""The data-model registry as a service: the built-in models, plus those registered at run time (in the store)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from dosi.errors import BadRequestData, ResourceNotFound
from dosi.models.registry import DataModel, ModelError, ModelRegistry
from dosi.ngsild.model import now_iso
from dosi.store.base import EntityStore


class ModelService:
    def __init__(self, store: EntityStore, registry: ModelRegistry, forget: Callable[[], None] = lambda: None):
        self.store = store
        self.registry = registry
        self.forget = forget  # drops what was resolved with an older version of a model (its @context)

    async def load(self) -> None:
        """Adds the models registered in the store: at start, and when a type this process does not know is
        asked for. A model replaced by another process reaches this one at its next start."""
        for _, doc in await self.store.list_models():
            self.registry.add(DataModel.from_doc(orjson.loads(doc)))

    async def register(self, doc: Any) -> tuple[DataModel, bool]:
        """Checks and stores a model; (model, True) when its type was new."""
        try:
            model = DataModel.from_doc(doc)
        except ModelError as err:
            raise BadRequestData(str(err)) from None
        created = self.registry.get(model.type) is None
        await self.store.put_model(model.type, orjson.dumps(doc).decode(), now_iso())
        self.registry.add(model)
        self.forget()
        return model, created

    async def get(self, name: str) -> DataModel:
        model = self.registry.get(name)
        if model is None:
            await self.load()
            model = self.registry.get(name)
        if model is None:
            raise ResourceNotFound(f"no data model for type {name} / {name} 유형의 데이터 모델이 없습니다")
        return model

    def all(self) -> list[DataModel]:
        return self.registry.all()
