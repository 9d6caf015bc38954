"""`dosi demo`: the hub on SQLite with a sample city streaming in."""

from __future__ import annotations

import asyncio
import os
import socket

import click

from dosi.cli.options import database_option, load_settings


@click.command(help="Serve the hub with a sample Seoul district streaming in / 샘플 도시 데이터와 함께 허브 실행")
@click.option("--port", type=int, default=None, help="Hub port (default DOSI_PORT, 1026)")
@click.option("--portal-port", type=int, default=None, help="Port of the open-data portal stand-in (default port+1)")
@click.option("--speed", type=float, default=600.0, show_default=True,
              help="Simulated seconds per real second, until the simulated day catches up with now")  # fmt: skip
@database_option
def demo(port: int | None, portal_port: int | None, speed: float, database_url: str | None) -> None:
    from dosi.demo.run import run_demo

    if speed <= 0:
        raise click.BadParameter("speed must be positive")
    # the demo's polling sources read the portal stand-in on this machine: allow that address only
    os.environ.setdefault("DOSI_OUTBOUND_ALLOW", "127.0.0.1/32")
    settings = load_settings(
        port=port, database_url=database_url or os.environ.get("DOSI_DATABASE_URL") or "sqlite:///./dosi-demo.db"
    )
    if settings.host not in ("127.0.0.1", "localhost", "::1"):
        raise click.ClickException("the demo serves on loopback only / 데모는 루프백 주소에서만 실행됩니다")
    portal = portal_port or settings.port + 1
    for option, number in (("--port", settings.port), ("--portal-port", portal)):
        if not _free(settings.host, number):
            raise click.ClickException(f"port {number} is in use: choose another with {option} / 포트가 사용 중입니다")
    try:
        asyncio.run(run_demo(settings, speed, portal, click.echo))
    except KeyboardInterrupt:
        click.echo("demo stopped / 데모 종료")


def _free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True
