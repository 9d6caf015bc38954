"""`dosi keys create|list|revoke`: API keys for devices, ingest sources and apps."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click

from dosi.api.hub import open_store
from dosi.cli.options import database_option, load_settings
from dosi.errors import DosiError
from dosi.ngsild.model import now_iso
from dosi.security.principal import ROLE_ACTIONS
from dosi.service.keys import KeyService
from dosi.store.base import EntityStore

T = TypeVar("T")


def with_store(database_url: str | None, work: Callable[[EntityStore], Awaitable[T]]) -> T:
    settings = load_settings(database_url=database_url)

    async def run() -> T:
        store = open_store(settings)
        await store.open()
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(run())


@click.group(help="API keys / API 키 관리")
def keys() -> None:
    pass


@keys.command(help="Create a key; it is shown once / 키 발급 (한 번만 표시됩니다)")
@click.option("--name", required=True, help="Who or what uses the key, e.g. 'air-sensors-jongno'")
@click.option("--role", "roles", multiple=True, type=click.Choice(sorted(ROLE_ACTIONS)),
              help="Its roles (none: only what policies naming the key grant)")  # fmt: skip
@click.option("--tenant", "tenants", multiple=True, help="Tenants the key may use (default: the default tenant)")
@click.option("--all-tenants", is_flag=True, help="Every tenant (admin keys)")
@click.option("--days", type=float, default=None, help="Expire after this many days")
@database_option
def create(
    name: str, roles: tuple[str, ...], tenants: tuple[str, ...], all_tenants: bool, days: float | None,
    database_url: str | None,
) -> None:  # fmt: skip
    chosen = None if all_tenants else list(tenants or [""])
    try:
        issued = with_store(database_url, lambda store: KeyService(store).issue(name, list(roles), chosen, days))
    except DosiError as err:
        raise click.ClickException(err.detail) from None
    click.echo(issued.text)
    click.echo(f"key {issued.key.key_id} for {name}: keep it now, it cannot be shown again / 지금 보관하세요", err=True)


@keys.command(name="list", help="List keys (never their secrets) / 키 목록")
@database_option
def list_keys(database_url: str | None) -> None:
    for key in with_store(database_url, lambda store: store.list_api_keys()):
        state = "revoked" if key.revoked_at else ("expires " + key.expires_at if key.expires_at else "active")
        tenants = "*" if key.tenants is None else ",".join(t or "(default)" for t in key.tenants)
        click.echo(
            f"{key.key_id}  {key.name}  roles={','.join(key.roles)}  tenants={tenants}  {state}"
            f"  last used {key.last_used_at or 'never'}"
        )


@keys.command(help="Revoke a key / 키 폐기")
@click.argument("key_id")
@database_option
def revoke(key_id: str, database_url: str | None) -> None:
    if not with_store(database_url, lambda store: store.revoke_api_key(key_id, now_iso())):
        raise click.ClickException(f"no active key {key_id} / 활성 키가 없습니다")
    click.echo(f"revoked {key_id} / 폐기됨")
