"""`dosi models`: the data-model registry."""

from __future__ import annotations

import json
from pathlib import Path

import click

from dosi.api.hub import Hub
from dosi.cli.options import database_option, with_hub


@click.group(help="Data models / 데이터 모델 레지스트리")
def models() -> None:
    pass


@models.command(name="list", help="List the known entity types / 등록된 엔티티 유형 목록")
@database_option
def list_models(database_url: str | None) -> None:
    async def work(hub: Hub) -> None:
        for model in hub.models.all():
            origin = "built-in" if model.builtin else "registered"
            click.echo(
                f"{model.type:<24} {model.domain:<16} {len(model.attributes):>3} attrs  {origin:<10}  "
                f"{model.title.get('ko', '')} / {model.title.get('en', '')}"
            )

    with_hub(database_url, work)


@models.command(name="show", help="One model: attributes, units, privacy labels / 모델 상세")
@click.argument("type_name")
@click.option("--schema", is_flag=True, help="Print the JSON Schema of the key-values form instead")
@database_option
def show(type_name: str, schema: bool, database_url: str | None) -> None:
    async def work(hub: Hub) -> None:
        model = await hub.models.get(type_name)
        click.echo(json.dumps(model.json_schema() if schema else model.summary(), ensure_ascii=False, indent=2))

    with_hub(database_url, work)


@models.command(name="register", help="Register (or replace) a model from a JSON file / 모델 등록")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@database_option
def register(path: Path, database_url: str | None) -> None:
    async def work(hub: Hub) -> None:
        model, created = await hub.models.register(json.loads(path.read_text(encoding="utf-8")))
        click.echo(f"{'registered' if created else 'replaced'} {model.type} / 등록 완료")

    with_hub(database_url, work)
