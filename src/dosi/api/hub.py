"""The services of one running hub, built from settings and shared by every route."""

from __future__ import annotations

from dataclasses import dataclass

from dosi.outbound import OutboundGuard
from dosi.service.batch import BatchService
from dosi.service.contexts import ContextService
from dosi.service.discovery import DiscoveryService
from dosi.service.entities import EntityService
from dosi.service.notify import Notifier
from dosi.service.params import QueryBuilder
from dosi.service.subscriptions import SubscriptionService
from dosi.service.temporal import TemporalService
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

    @classmethod
    def build(cls, settings: Settings, store: EntityStore | None = None) -> Hub:
        store = store or open_store(settings)
        guard = OutboundGuard(settings.outbound_allow_list())
        contexts = ContextService(settings, store, guard)
        notifier = Notifier(store, contexts)
        return cls(
            settings=settings,
            store=store,
            contexts=contexts,
            subscriptions=SubscriptionService(store, contexts, guard),
            notifier=notifier,
            guard=guard,
            temporal=TemporalService(store, notifier, settings.temporal_page_size),
            entities=EntityService(store, notifier),
            batch=BatchService(store, notifier),
            discovery=DiscoveryService(store),
            queries=QueryBuilder(settings),
        )
