"""The one settings class. Read from DOSI_* environment variables; CLI flags override.

Every field here is documented in docs/settings.md (a test checks it).
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from dosi.service.retention import RetentionRule


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOSI_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./dosi.db",
        description="sqlite:///path.db (embedded) or postgresql://user@host:port/db",
    )
    host: str = Field(default="127.0.0.1", description="Address the HTTP server binds to")
    port: int = Field(default=1026, ge=1, le=65535, description="HTTP port")
    workers: int = Field(default=1, ge=1, le=64, description="Number of server processes")
    page_size_default: int = Field(default=20, ge=1, description="limit when a query gives none")
    page_size_max: int = Field(default=1000, ge=1, description="Largest limit; above it TooManyResults")
    outbound_allow: str = Field(
        default="",
        description="Comma-separated hosts or CIDRs outbound calls may reach despite the SSRF guard",
    )
    context_fetch_timeout: float = Field(default=3.0, gt=0, description="Seconds to wait for a remote @context")
    context_max_bytes: int = Field(default=1_000_000, ge=1024, description="Largest remote @context accepted, in bytes")
    context_cache_size: int = Field(default=256, ge=1, description="Remote @context documents kept in memory")
    max_body_bytes: int = Field(default=16_000_000, ge=1024, description="Largest request body accepted, in bytes")
    q_max_length: int = Field(default=4096, ge=16, description="Longest q / scopeQ accepted")
    notify_timeout: float = Field(default=5.0, gt=0, description="Seconds a notification receiver may take")
    notify_endpoint_concurrency: int = Field(
        default=4, ge=1, description="Notifications in flight to one endpoint (host:port) per process"
    )
    notify_max_inflight: int = Field(default=64, ge=1, description="Notifications in flight per process")
    notify_poll_interval: float = Field(
        default=0.5, gt=0, description="Seconds between outbox polls when no wake-up arrives"
    )
    notify_max_attempts: int = Field(default=12, ge=1, description="Delivery attempts before a notification is dropped")
    notify_backoff_base: float = Field(default=1.0, gt=0, description="Seconds before the first retry (doubles)")
    notify_backoff_max: float = Field(default=300.0, gt=0, description="Longest wait between retries, in seconds")
    temporal_page_size: int = Field(
        default=30, ge=1, description="Instances per entity in one temporal answer; more answers 206 + Content-Range"
    )
    history_retention: list[RetentionRule] = Field(
        default=[],
        description='JSON list of rules such as [{"keep": "P365D"}, {"type": "ParkingSpot", "keep": "P30D"}]',
    )
    history_maintenance_interval: float = Field(
        default=3600.0, gt=0, description="Seconds between runs of the history pruning and partitioning job"
    )
    sqlite_cache_mb: int = Field(default=16, ge=1, description="SQLite page cache per worker process, in MB")
    sqlite_mmap_mb: int = Field(
        default=0, ge=0, description="SQLite memory-mapped I/O per worker, in MB (0: off; mapped pages count as RSS)"
    )
    auth: str = Field(
        default="auto",
        pattern="^(auto|on|off-unsafe)$",
        description="auto: open on loopback only; on: always authenticate; off-unsafe: open anywhere (logged)",
    )
    oidc_issuer: str = Field(default="", description="OpenID Connect issuer URL whose JWTs are accepted")
    oidc_audience: str = Field(default="dosi", description="The aud a token must carry")
    oidc_algorithms: str = Field(default="RS256,ES256", description="Accepted JWT algorithms (RS256, ES256 only)")
    oidc_jwks_url: str = Field(default="", description="The issuer's JWKS URL (default: from its discovery document)")
    oidc_jwks_ttl: float = Field(default=300.0, gt=0, description="Seconds the issuer's keys are cached")
    oidc_roles_claim: str = Field(
        default="realm_access.roles", description="Dotted path of the token claim that lists Dosi roles"
    )
    auth_local_issuer: bool = Field(
        default=True, description="Accept tokens of the local development issuer (dosi auth token)"
    )
    rate_limit_per_client: float = Field(
        default=200.0, ge=0, description="Requests per second one API key or user may send, per worker (0: no limit)"
    )
    rate_limit_per_tenant: float = Field(
        default=1000.0, ge=0, description="Requests per second to one tenant, per worker (0: no limit)"
    )
    rate_limit_burst: float = Field(default=2.0, ge=1, description="Bursts may reach this many seconds' worth")
    policy_refresh: float = Field(
        default=5.0, ge=0, description="Seconds a worker keeps access policies before reading them again"
    )
    validation: str = Field(
        default="off",
        pattern="^(strict|warn|off)$",
        description="Checks of NGSI-LD API writes against the data-model registry: strict, warn or off",
    )
    validation_tenants: dict[str, str] = Field(
        default={}, description='Per-tenant validation modes, as JSON: {"seoul": "strict"}'
    )
    ingest_sources: str = Field(
        default="", description="A TOML file or a folder of them: ingest sources this hub runs (also stored ones)"
    )
    ingest_status_interval: float = Field(
        default=5.0, gt=0, description="Seconds between saves of each ingest source's status"
    )
    ingest_shares: int = Field(
        default=0,
        ge=0,
        le=64,
        description="Processes that share each MQTT source (MQTT shared subscriptions); 0: as many as DOSI_WORKERS",
    )
    log_level: str = Field(default="info", description="debug, info, warning or error")

    @property
    def mqtt_shares(self) -> int:
        return self.ingest_shares or self.workers

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgresql://", "postgres://"))

    def outbound_allow_list(self) -> list[str]:
        return [part.strip() for part in self.outbound_allow.split(",") if part.strip()]
