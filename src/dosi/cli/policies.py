"""`dosi policies add|list|show|remove`: access policies narrower than roles."""

from __future__ import annotations

import json
from typing import Any

import click

from dosi.cli.keys import with_store
from dosi.cli.options import database_option
from dosi.errors import DosiError
from dosi.models.registry import ModelRegistry
from dosi.ngsild.context import core_active
from dosi.security.principal import ACTIONS, OPEN
from dosi.service.policies import PolicyService


@click.group(help="Access policies: who may do what to which data / 접근 정책")
def policies() -> None:
    pass


@policies.command(help="Grant a subject some actions on some data / 정책 추가")
@click.option("--subject", required=True, help="role:NAME, user:ID, client:ID or key:KEY_ID")
@click.option(
    "--action", "actions", multiple=True, required=True, type=click.Choice([a for a in ACTIONS if a != "admin"])
)
@click.option("--tenant", default=None, help="Only on this tenant (default: any tenant the subject may use)")
@click.option("--type", "types", multiple=True, help="Only entities of these types (a data model's name or an IRI)")
@click.option("--id-pattern", default=None, help="Only entities whose id matches this regular expression")
@click.option("--scope", "scopes", multiple=True, help="Only this dataset: a scope such as /Seoul/Gangnam, and below")
@click.option("--attribute", "attributes", multiple=True, help="Only these attributes are shown or written")
@click.option("--purpose", default=None, help="Only for requests stating this purpose (Dosi-Purpose header)")
@click.option("--valid-from", default=None, help="From this date-time, e.g. 2027-01-01T00:00:00Z")
@click.option("--valid-until", default=None, help="Until this date-time")
@click.option("--description", default=None)
@database_option
def add(
    subject: str, actions: tuple[str, ...], tenant: str | None, types: tuple[str, ...], id_pattern: str | None,
    scopes: tuple[str, ...], attributes: tuple[str, ...], purpose: str | None, valid_from: str | None,
    valid_until: str | None, description: str | None, database_url: str | None,
) -> None:  # fmt: skip
    doc: dict[str, Any] = {
        "subject": subject,
        "actions": list(actions),
        "tenant": tenant,
        "types": list(types) or None,
        "idPattern": id_pattern,
        "scopes": list(scopes) or None,
        "attributes": list(attributes) or None,
        "purpose": purpose,
        "validFrom": valid_from,
        "validUntil": valid_until,
        "description": description,
    }
    doc = {k: v for k, v in doc.items() if v is not None}
    try:
        made = with_store(
            database_url, lambda store: PolicyService(store, registry=ModelRegistry()).put(OPEN, doc, core_active())
        )
    except DosiError as err:
        raise click.ClickException(err.detail) from None
    click.echo(json.dumps(made.document(), ensure_ascii=False, indent=2))


@policies.command(name="list", help="List policies / 정책 목록")
@database_option
def list_policies(database_url: str | None) -> None:
    for policy in with_store(database_url, lambda store: PolicyService(store).list(OPEN)):
        doc = policy.document()
        scope = ", ".join(f"{k}={doc[k]}" for k in ("tenant", "types", "idPattern", "scopes", "attributes") if k in doc)
        click.echo(f"{policy.id}  {policy.subject}  {','.join(doc['actions'])}  {scope or 'everything'}")


@policies.command(help="Show one policy / 정책 보기")
@click.argument("policy_id")
@database_option
def show(policy_id: str, database_url: str | None) -> None:
    try:
        found = with_store(database_url, lambda store: PolicyService(store).get(OPEN, policy_id))
    except DosiError as err:
        raise click.ClickException(err.detail) from None
    click.echo(json.dumps(found.document(), ensure_ascii=False, indent=2))


@policies.command(help="Remove a policy / 정책 삭제")
@click.argument("policy_id")
@database_option
def remove(policy_id: str, database_url: str | None) -> None:
    try:
        with_store(database_url, lambda store: PolicyService(store).delete(OPEN, policy_id))
    except DosiError as err:
        raise click.ClickException(err.detail) from None
    click.echo(f"removed {policy_id} / 삭제됨")
