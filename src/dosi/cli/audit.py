"""`dosi audit verify`: check that no audit record was changed or removed."""

from __future__ import annotations

import click

from dosi.cli.keys import with_store
from dosi.cli.options import database_option
from dosi.security.audit import verify


@click.group(help="Audit log / 감사 로그")
def audit() -> None:
    pass


@audit.command(name="verify", help="Verify the hash chain / 해시 체인 검증")
@database_option
def verify_command(database_url: str | None) -> None:
    verdict = with_store(database_url, verify)
    if not verdict.intact:
        raise click.ClickException(
            f"audit chain broken at record {verdict.broken_at}: {verdict.reason} / 감사 로그가 변경되었습니다"
        )
    click.echo(f"{verdict.records} records, chain intact; latest hash {verdict.last_hash} / 무결성 확인")
