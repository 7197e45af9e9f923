"""`fxticker db`, `migrate`, `ingest`, `sample` and `export`: the commands that fill and read the database."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from fxticker import vocab
from fxticker.cli.common import current_settings, page_date_option, writing_stdout
from fxticker.cli.connection import connect, database_errors
from fxticker.collect.ingest import ingest_many, load_sample
from fxticker.export import tables
from fxticker.storage import cluster as db
from fxticker.storage import daily
from fxticker.storage import observations as store


@click.group("db")
def db_group() -> None:
    """Manage the embedded PostgreSQL cluster (used when DATABASE_URL is unset)."""


def _embedded() -> db.EmbeddedCluster:
    conf = current_settings()
    if conf.database_url:
        raise ValueError("DATABASE_URL is set: fxticker uses that server, not an embedded one")
    return db.EmbeddedCluster.from_settings(conf)


@db_group.command("start")
@database_errors
def db_start() -> None:
    """Create (first time) and start the embedded cluster."""
    cluster = _embedded()
    cluster.start()
    click.echo(f"embedded PostgreSQL running in {cluster.pgdata}", err=True)


@db_group.command("stop")
@database_errors
def db_stop() -> None:
    """Stop the embedded cluster."""
    _embedded().stop()
    click.echo("embedded PostgreSQL stopped", err=True)


@db_group.command("status")
@database_errors
def db_status() -> None:
    """Say whether the embedded cluster runs; exit 1 when it does not."""
    cluster = _embedded()
    if cluster.running():
        click.echo(f"running: {cluster.pgdata}")
    else:
        state = "stopped" if cluster.initialized() else "not created"
        click.echo(f"{state}: {cluster.pgdata}")
        sys.exit(1)


@db_group.command("url")
@database_errors
def db_url() -> None:
    """Print the embedded cluster's libpq URL (for psql)."""
    click.echo(_embedded().url())


@click.command()
@database_errors
def migrate() -> None:
    """Apply the schema migrations in sql/ that are not applied yet."""
    with connect() as conn:
        applied = store.migrate(conn)
    click.echo(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else ""),
               err=True)


@click.command()
@page_date_option
@click.argument("sources", nargs=-1, required=True)
@database_errors
def ingest(fallback_date: dt.date | None, sources: tuple[str, ...]) -> None:
    """Store the ticker of pages (files, directories, URLs), parsed on every core, in batches."""
    summary = ingest_many(list(sources), fallback_date, current_settings())
    for outcome in summary.rejected:
        click.echo(f"rejected {outcome.source}: {outcome.error}", err=True)
    click.echo(summary.line(), err=True)
    sys.exit(1 if summary.rejected else 0)


@click.command()
@database_errors
def sample() -> None:
    """Load the bundled sample pages when the database holds no observations yet."""
    with connect() as conn:
        store.migrate(conn)
        if store.observation_count(conn):
            click.echo("database already holds observations; sample not loaded", err=True)
            return
        conn.autocommit = True
        summary = load_sample(conn, current_settings())
    click.echo(f"sample: {summary.line()}", err=True)
    if summary.rejected:
        sys.exit(1)


@click.command("export")
@click.option("--currencies", metavar="KZT,UZS", help="Currencies to export (default: all).")
@click.option("--from", "start", metavar="YYYY-MM-DD", help="First day (default: the earliest stored).")
@click.option("--to", "end", metavar="YYYY-MM-DD", help="Last day (default: the latest stored).")
@click.option("--resolution", type=click.Choice(tables.RESOLUTIONS), default="daily", show_default=True,
              help="daily: each day's latest quote; raw: every revision with its provenance.")
@click.option("--direction", type=click.Choice(tables.DIRECTIONS), default="usd_per_unit", show_default=True,
              help="usd_per_unit: as quoted; per_usd: units of the currency per USD.")
@click.option("--bom", is_flag=True, help="Start with a UTF-8 byte-order mark, for Excel.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (default: standard output).")
@database_errors
def export_csv(currencies: str | None, start: str | None, end: str | None, resolution: str,
               direction: str, bom: bool, output: Path | None) -> None:
    """Write stored rates as CSV (the same as the web app's /export.csv)."""
    query = tables.make_query(currencies=currencies, start=start, end=end, resolution=resolution,
                              direction=direction)
    with connect() as conn:
        conn.read_only = True
        vocab.check_stored("currencies", query.currencies, daily.stored_currencies(conn))
        if output is None:
            with writing_stdout():
                tables.write(conn, query, sys.stdout.buffer, bom=bom)
            return
        try:
            with output.open("wb") as out:
                tables.write(conn, query, out, bom=bom)
        except OSError as exc:
            raise ValueError(f"cannot write {output}: {exc.strerror}") from None
    click.echo(f"wrote {output}", err=True)
