"""The services of one running hub, built from settings and shared by every route."""

from __future__ import annotations

from dataclasses import dataclass

from dosi.ingest.coordinator import Coordinator
from dosi.models.registry import ModelRegistry
from dosi.outbound import OutboundGuard
from dosi.service.batch import BatchService
from dosi.service.contexts import ContextService
from dosi.service.discovery import DiscoveryService
from dosi.service.entities import EntityService
from dosi.service.ingest import IngestWriter
from dosi.service.models import ModelService
from dosi.service.notify import Notifier
from dosi.service.params import QueryBuilder
from dosi.service.policies import PolicyService
from dosi.service.subscriptions import SubscriptionService
from dosi.service.temporal import TemporalService
from dosi.service.validation import Validation
from dosi.settings import Settings
from dosi.store.base import EntityStore


def open_store(settings: Settings) -> EntityStore:
    if settings.is_postgres:
        from dosi.store.postgres import PostgresStore

        return PostgresStore(settings.database_url)
    from dosi.store.sqlite import SqliteStore

    return SqliteStore(settings.database_url, settings.sqlite_cache_mb, settings.sqlite_mmap_mb)


@dataclass
class Hub:
    settings: Settings
    store: EntityStore
    contexts: ContextService
    entities: EntityService
    batch: BatchService
    discovery: DiscoveryService
    queries: QueryBuilder
    subscriptions: SubscriptionService
    notifier: Notifier
    guard: OutboundGuard
    temporal: TemporalService
    models: ModelService
    ingest: Coordinator
    policies: PolicyService

    @classmethod
    def build(cls, settings: Settings, store: EntityStore | None = None) -> Hub:
        store = store or open_store(settings)
        guard = OutboundGuard(settings.outbound_allow_list())
        contexts = ContextService(settings, store, guard)
        registry = ModelRegistry()
        contexts.model_context = registry.context_document
        validation = Validation(registry, settings.validation, settings.validation_tenants)
        policies = PolicyService(store, settings.policy_refresh, registry)
        notifier = Notifier(store, contexts, validation, policies)
        entities = EntityService(store, notifier)
        batch = BatchService(store, notifier)
        temporal = TemporalService(store, notifier, settings.temporal_page_size)
        writer = IngestWriter(store, contexts, notifier, validation)
        return cls(
            settings=settings,
            store=store,
            contexts=contexts,
            subscriptions=SubscriptionService(store, contexts, guard),
            notifier=notifier,
            guard=guard,
            temporal=temporal,
            entities=entities,
            batch=batch,
            discovery=DiscoveryService(store),
            queries=QueryBuilder(settings),
            models=ModelService(store, registry, contexts.forget),
            ingest=Coordinator(
                store,
                writer,
                registry,
                guard,
                settings.ingest_sources,
                settings.ingest_status_interval,
                policies,
                settings.mqtt_shares,
            ),
            policies=policies,
        )
