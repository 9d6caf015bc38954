"""`dosi config check`: validate a deployment's settings and reach its database."""

from __future__ import annotations

import asyncio

import click

from dosi.api.hub import open_store
from dosi.cli.options import load_settings


@click.group(help="Settings / 설정")
def config() -> None:
    pass


@config.command(help="Validate settings and connect to the database / 설정 검증")
def check() -> None:
    settings = load_settings()
    for name, value in settings.model_dump().items():
        click.echo(f"DOSI_{name.upper()}={value}")

    async def run() -> None:
        store = open_store(settings)
        await store.open()
        await store.close()

    try:
        asyncio.run(run())
    except Exception as err:
        raise click.ClickException(f"cannot open the store / 저장소 연결 실패: {err}") from None
    click.echo("ok / 정상")
