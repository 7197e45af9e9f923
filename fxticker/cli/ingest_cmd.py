"""`fxticker ingest` and `fxticker sample`: pages into the database."""

from __future__ import annotations

import datetime as dt
import sys

import click

from fxticker.cli.common import current_settings, page_date_option
from fxticker.cli.connection import connect, database_errors
from fxticker.collect.ingest import ingest_many, load_sample
from fxticker.storage import observations as store


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
