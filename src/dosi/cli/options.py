"""Options shared by several commands; flags override DOSI_* environment variables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from dosi.settings import Settings

F = Callable[..., Any]


def database_option(func: F) -> F:
    return click.option("--database-url", envvar=None, default=None, help="Overrides DOSI_DATABASE_URL")(func)


def load_settings(**overrides: Any) -> Settings:
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except Exception as err:  # pydantic's ValidationError: report it, do not trace it
        raise click.ClickException(f"invalid settings / 잘못된 설정: {err}") from None
