"""`dosi serve`: run the NGSI-LD API."""

from __future__ import annotations

import os

import click

from dosi.cli.keys import with_store
from dosi.cli.options import database_option, load_settings
from dosi.ngsild.model import now_iso
from dosi.security.mode import loopback, open_access
from dosi.settings import Settings
from dosi.store.base import EntityStore


@click.command(help="Serve the NGSI-LD API / NGSI-LD API 서버 실행")
@click.option("--host", default=None, help="Overrides DOSI_HOST (default 127.0.0.1)")
@click.option("--port", type=int, default=None, help="Overrides DOSI_PORT (default 1026)")
@click.option("--workers", type=int, default=None, help="Overrides DOSI_WORKERS (default 1)")
@database_option
def serve(host: str | None, port: int | None, workers: int | None, database_url: str | None) -> None:
    import uvicorn

    settings = load_settings(host=host, port=port, workers=workers, database_url=database_url)
    # worker processes rebuild the settings from the environment: pass the flags on
    os.environ["DOSI_DATABASE_URL"] = settings.database_url
    os.environ["DOSI_HOST"] = settings.host
    os.environ["DOSI_PORT"] = str(settings.port)
    os.environ["DOSI_WORKERS"] = str(settings.workers)  # MQTT sources are shared among the workers
    click.echo(
        f"Dosi on http://{settings.host}:{settings.port}/ngsi-ld/v1 "
        f"({'PostgreSQL' if settings.is_postgres else 'SQLite'}: {settings.database_url})"
    )
    announce_access(settings)
    uvicorn.run(
        "dosi.api.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        access_log=False,
        server_header=False,
    )


def announce_access(settings: Settings) -> None:
    """Secure by default: say how requests are admitted, and refuse a public address without authentication."""
    if settings.auth == "off-unsafe":
        click.echo(
            "WARNING: DOSI_AUTH=off-unsafe: every request is admitted without credentials on "
            f"{settings.host} / 경고: 인증 없이 모든 요청을 허용합니다",
            err=True,
        )
        return
    if open_access(settings):
        click.echo(
            "Running OPEN (no authentication) because it listens on loopback only; set DOSI_AUTH=on to require "
            "credentials / 루프백에서만 인증 없이 실행 중입니다",
            err=True,
        )
        return
    public = not loopback(settings.host)
    if public and not settings.oidc_issuer and not with_store(settings.database_url, _has_active_key):
        raise click.ClickException(
            f"refusing to serve {settings.host} without authentication: set DOSI_OIDC_ISSUER or create an API key "
            "(dosi keys create), or bind to 127.0.0.1 / 인증 설정 없이 외부 주소로 실행할 수 없습니다"
        )
    click.echo("Authentication required (bearer token or API key) / 인증이 필요합니다", err=True)


async def _has_active_key(store: EntityStore) -> bool:
    now = now_iso()
    return any(
        k.revoked_at is None and (k.expires_at is None or k.expires_at > now) for k in await store.list_api_keys()
    )
