"""`dosi serve`: run the NGSI-LD API."""

from __future__ import annotations

import os

import click

from dosi.cli.options import database_option, load_settings


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
    click.echo(
        f"Dosi on http://{settings.host}:{settings.port}/ngsi-ld/v1 "
        f"({'PostgreSQL' if settings.is_postgres else 'SQLite'}: {settings.database_url})"
    )
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
