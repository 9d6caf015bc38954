"""Options shared by several commands; flags override DOSI_* environment variables."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from dosi.errors import DosiError
from dosi.settings import Settings

if TYPE_CHECKING:
    from dosi.api.hub import Hub

F = Callable[..., Any]
T = TypeVar("T")


def database_option(func: F) -> F:
    return click.option("--database-url", envvar=None, default=None, help="Overrides DOSI_DATABASE_URL")(func)


def load_settings(**overrides: Any) -> Settings:
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except Exception as err:  # pydantic's ValidationError: report it, do not trace it
        raise click.ClickException(f"invalid settings / 잘못된 설정: {err}") from None


def with_hub(database_url: str | None, work: Callable[[Hub], Awaitable[T]], **overrides: Any) -> T:
    """Runs `work` with the services of a hub on the configured store (opened, and closed after)."""
    from dosi.api.hub import Hub

    settings = load_settings(database_url=database_url, **overrides)

    async def run() -> T:
        hub = Hub.build(settings)
        await hub.store.open()
        try:
            await hub.models.load()
            return await work(hub)
        except DosiError as err:
            raise click.ClickException(err.detail) from None
        finally:
            await hub.store.close()

    return asyncio.run(run())
