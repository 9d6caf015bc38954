"""The `dosi` command line: one module per command group."""

from __future__ import annotations

import click

from dosi import __version__
from dosi.cli import audit, auth, config, db, demo, history, ingest, keys, models, policies, serve


@click.group(help="Dosi (도시) smart-city data hub / 스마트시티 데이터 허브")
@click.version_option(__version__, prog_name="dosi")
def main() -> None:
    pass


main.add_command(demo.demo)
main.add_command(serve.serve)
main.add_command(db.db)
main.add_command(config.config)
main.add_command(history.history)
main.add_command(keys.keys)
main.add_command(policies.policies)
main.add_command(auth.auth)
main.add_command(audit.audit)
main.add_command(models.models)
main.add_command(ingest.ingest)
main.add_command(ingest.import_file)
