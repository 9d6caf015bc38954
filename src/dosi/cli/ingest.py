"""`dosi ingest` (sources, their status, the rejection log) and `dosi import FILE --mapping M`."""

from __future__ import annotations

import csv
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
import ijson

from dosi.api.hub import Hub
from dosi.cli.options import database_option, with_hub
from dosi.ingest.config import SourceConfig
from dosi.ingest.mapping import MappingError
from dosi.ingest.pipeline import Pipeline
from dosi.ingest.sources.files import format_of, records, sniff_encoding
from dosi.ngsild.model import now_iso

BATCH = 1000  # records written per transaction when importing a file
COUNTS = ("records_in", "stored", "duplicates", "rejected")


def _config(hub: Hub, path: Path) -> SourceConfig:
    try:
        return SourceConfig.parse(path.read_text(encoding="utf-8"), hub.models.registry)
    except MappingError as err:
        raise click.ClickException(f"{path}: {err}") from None


@click.group(help="Ingest sources and the rejection log / 데이터 수집원과 거부 기록")
def ingest() -> None:
    pass


@ingest.command(name="add", help="Check a source config (TOML) and store it for every worker / 수집원 등록")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@database_option
def add(path: Path, database_url: str | None) -> None:
    async def work(hub: Hub) -> None:
        config = _config(hub, path)
        await hub.store.put_source(config.name, config.text, now_iso())
        click.echo(f"source {config.name} ({config.kind}) stored; a running hub picks it up at its next start")

    with_hub(database_url, work)


@ingest.command(name="remove", help="Remove a stored source / 수집원 삭제")
@click.argument("name")
@database_option
def remove(name: str, database_url: str | None) -> None:
    async def work(hub: Hub) -> None:
        if not await hub.store.delete_source(name):
            raise click.ClickException(f"no stored source {name} / 등록된 수집원이 없습니다")
        click.echo(f"source {name} removed / 삭제됨")

    with_hub(database_url, work)


@ingest.command(name="status", help="Each source: state, counts, last success and error / 수집원 상태")
@click.option("--json", "as_json", is_flag=True, help="Print JSON")
@database_option
def status(as_json: bool, database_url: str | None) -> None:
    async def work(hub: Hub) -> None:
        await hub.ingest.load()
        rows = await hub.ingest.statuses()
        if as_json:
            click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        if not rows:
            click.echo("no ingest sources / 수집원이 없습니다")
        for row in rows:
            counts = "  ".join(f"{key} {row.get(key, 0):>7}" for key in COUNTS)
            name = f"{row['name']} ({row['share']})" if row.get("share") else row["name"]  # slots of shared MQTT
            click.echo(
                f"{name:<22} {row.get('kind', ''):<5} {row.get('state', ''):<9} {counts}"
                f"  {row.get('rate_per_s', 0):>7}/s  last ok {row.get('last_success') or '-'}"
            )
            if row.get("last_error"):
                click.echo(f"{'':<22} last error {row['last_error_at']}: {row['last_error']}")

    with_hub(database_url, work)


@ingest.command(name="rejected", help="Messages that were not stored, with the reason / 거부된 메시지")
@click.option("--source", default=None, help="Only this source")
@click.option("--pending", is_flag=True, help="Only rejections not replayed yet")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with the raw payloads)")
@database_option
def rejected(source: str | None, pending: bool, limit: int, as_json: bool, database_url: str | None) -> None:
    async def work(hub: Hub) -> None:
        rows = await hub.store.rejections(source, 0, limit, pending)
        if as_json:
            click.echo(json.dumps([asdict(r) for r in rows], ensure_ascii=False, indent=2))
            return
        for r in rows:
            replayed = f" (replayed {r.replayed_at})" if r.replayed_at else ""
            click.echo(f"#{r.seq} {r.received_at} {r.source} {r.outcome}{replayed}: {r.reason}")
            click.echo(f"    {r.payload[:200]}")

    with_hub(database_url, work)


@ingest.command(name="replay", help="Send pending rejections through their (fixed) mapping again / 재처리")
@click.option("--source", default=None, help="Only this source")
@click.option("--limit", default=1000, show_default=True)
@database_option
def replay(source: str | None, limit: int, database_url: str | None) -> None:
    async def work(hub: Hub) -> None:
        done = await hub.ingest.replay(source, limit)
        click.echo(json.dumps(done))

    with_hub(database_url, work)


@click.command(name="import", help="Import a CSV, GeoJSON or NDJSON file through a mapping / 파일 가져오기")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--mapping", "mapping_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A source config (TOML) whose [mapping] turns each record into an entity")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(["csv", "geojson", "ndjson"]), default=None,
              help="Default: from the file name")  # fmt: skip
@click.option("--encoding", default=None, help="CSV text encoding (default: utf-8, or cp949 when it is not)")
@database_option
def import_file(
    path: Path, mapping_path: Path, fmt: str | None, encoding: str | None, database_url: str | None
) -> None:
    async def work(hub: Hub) -> dict[str, Any]:
        pipeline = Pipeline(_config(hub, mapping_path), hub.ingest.writer)
        began = time.perf_counter()
        batch: list[Any] = []
        try:
            kind = format_of(path, fmt)
        except ValueError as err:
            raise click.ClickException(str(err)) from None
        try:
            for number, record in records(path, kind, encoding or sniff_encoding(path)):
                batch.append({**record, "$line": number} if isinstance(record, dict) else record)
                if len(batch) >= BATCH:
                    await pipeline.feed_records(batch)
                    batch = []
                    click.echo(f"  {pipeline.status.records_in:,} records ...", err=True)
        except (csv.Error, UnicodeDecodeError, ijson.JSONError) as err:  # the file itself is broken from here on
            stopped = f"{path}: unreadable after {pipeline.status.records_in + len(batch):,} records: {err}"
            if batch:
                await pipeline.feed_records(batch)
            raise click.ClickException(stopped + " (the records before it are stored / 앞부분은 저장됨)") from None
        if batch:
            await pipeline.feed_records(batch)
        pipeline.status.state = "imported"
        await hub.store.save_status(pipeline.config.name, pipeline.status.doc(), now_iso())
        seconds = time.perf_counter() - began
        s = pipeline.status
        return {"records": s.records_in, "stored": s.stored, "duplicates": s.duplicates, "rejected": s.rejected,
                "flagged": s.flagged, "seconds": round(seconds, 2)}  # fmt: skip

    summary = with_hub(database_url, work)
    click.echo(json.dumps(summary))
    if summary["rejected"]:
        click.echo(
            "see `dosi ingest rejected` for the reasons / 거부 사유는 dosi ingest rejected 로 확인하세요", err=True
        )
