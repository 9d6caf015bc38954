"""`dosi auth token`: a token of the local development issuer, to try a secured hub in one minute."""

from __future__ import annotations

import click

from dosi.cli.keys import with_store
from dosi.cli.options import database_option, load_settings
from dosi.security.principal import ROLE_ACTIONS
from dosi.security.tokens import LOCAL_KEY, local_token, new_signing_key


@click.group(help="Authentication helpers / 인증 도구")
def auth() -> None:
    pass


@auth.command(help="Print a JWT of the local issuer (for development) / 개발용 토큰 발급")
@click.option("--subject", default="developer", help="The token's sub")
@click.option("--role", "roles", multiple=True, default=("operator",), type=click.Choice(sorted(ROLE_ACTIONS)))
@click.option("--tenant", "tenants", multiple=True, help="Tenants the token may use (default: the default tenant)")
@click.option("--minutes", type=float, default=60.0, help="Lifetime")
@database_option
def token(
    subject: str, roles: tuple[str, ...], tenants: tuple[str, ...], minutes: float, database_url: str | None
) -> None:
    settings = load_settings(database_url=database_url)
    if not settings.auth_local_issuer:
        raise click.ClickException("DOSI_AUTH_LOCAL_ISSUER is off / 로컬 발급자가 꺼져 있습니다")
    pem = with_store(database_url, lambda store: store.secret(LOCAL_KEY, new_signing_key))
    chosen = list(tenants) if tenants else None
    click.echo(local_token(pem, subject, list(roles), chosen, settings.oidc_audience, minutes))
