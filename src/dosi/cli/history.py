"""`dosi history prune`: apply the retention rules to the history once, by hand."""

from __future__ import annotations

import asyncio
import time

import click

from dosi.api.hub import open_store
from dosi.cli.options import database_option, load_settings
from dosi.ngsild.temporal import iso
from dosi.service.retention import prune


@click.group(help="Temporal history / 시계열 이력 관리")
def history() -> None:
    pass


@history.command(name="prune", help="Delete history older than DOSI_HISTORY_RETENTION / 보존 기간이 지난 이력 삭제")
@database_option
def prune_command(database_url: str | None) -> None:
    settings = load_settings(database_url=database_url)
    if not settings.history_retention:
        click.echo("no retention rules: history is kept forever / 보존 규칙 없음: 이력을 계속 보관합니다")
        return

    async def run() -> None:
        store = open_store(settings)
        await store.open()
        try:
            await store.maintain_history(time.time())
            for step, deleted in await prune(store, settings.history_retention):
                tenant = "*" if step.scope.tenant is None else repr(step.scope.tenant)
                click.echo(
                    f"tenant {tenant} type {step.scope.type or '*'}: {deleted} instances recorded before"
                    f" {iso(step.cutoff)} deleted / 삭제됨"
                )
        finally:
            await store.close()

    asyncio.run(run())
