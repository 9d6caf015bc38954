"""`dosi db migrate|reset`: manage the store's schema and data."""

from __future__ import annotations

import asyncio

import click

from dosi.api.hub import open_store
from dosi.cli.options import database_option, load_settings


@click.group(help="Database schema and data / 데이터베이스 관리")
def db() -> None:
    pass


@db.command(help="Apply pending migrations / 스키마 마이그레이션 적용")
@database_option
def migrate(database_url: str | None) -> None:
    settings = load_settings(database_url=database_url)

    async def run() -> None:
        store = open_store(settings)
        await store.open()  # opening applies every pending migration
        await store.close()

    asyncio.run(run())
    click.echo(f"schema up to date: {settings.database_url}")


@db.command(help="Delete every entity and context / 모든 데이터 삭제")
@click.option("--yes", is_flag=True, help="Confirm the deletion")
@database_option
def reset(yes: bool, database_url: str | None) -> None:
    if not yes:
        raise click.ClickException("add --yes to delete all data / 모든 데이터를 지우려면 --yes 를 붙이세요")
    settings = load_settings(database_url=database_url)

    async def run() -> None:
        store = open_store(settings)
        await store.open()
        await store.reset()
        await store.close()

    asyncio.run(run())
    click.echo("all data deleted / 모든 데이터가 삭제되었습니다")
