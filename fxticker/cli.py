"""The command line: thin wiring of fetch, parse, store and serve, with reports on stdout and stderr.

`main` and the everyday commands are here; `fxticker official` is in cli_official, `fxticker backfill` in
cli_backfill, and what they share (settings, one-line errors, the database, date options) in cli_common.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import click

from fxticker import __version__, cli_backfill, cli_official, db, export, settings, store, vocab
from fxticker.cli_common import (
    checked_date,
    connect,
    current_settings,
    fail,
    friendly_errors,
    writing_stdout,
)
from fxticker.ingest import expand, ingest_many, load_sample, parsed_batches, quote_lines

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("fxticker")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fxticker")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Track Central Asian currency rates from the Times of Central Asia ticker."""
    # Every setting is checked before any command runs: a bad one stops every command with its one line.
    try:
        ctx.obj = settings.load()
    except settings.SettingError as exc:
        fail(str(exc))
    logging.basicConfig(
        level=ctx.obj.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@main.group("db")
def db_group() -> None:
    """Manage the embedded PostgreSQL cluster (used when DATABASE_URL is unset)."""


def _embedded() -> db.EmbeddedCluster:
    conf = current_settings()
    if conf.database_url:
        raise ValueError("DATABASE_URL is set: fxticker uses that server, not an embedded one")
    return db.EmbeddedCluster.from_settings(conf)


@db_group.command("start")
@friendly_errors
def db_start() -> None:
    """Create (first time) and start the embedded cluster."""
    cluster = _embedded()
    cluster.start()
    click.echo(f"embedded PostgreSQL running in {cluster.pgdata}", err=True)


@db_group.command("stop")
@friendly_errors
def db_stop() -> None:
    """Stop the embedded cluster."""
    _embedded().stop()
    click.echo("embedded PostgreSQL stopped", err=True)


@db_group.command("status")
@friendly_errors
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
@friendly_errors
def db_url() -> None:
    """Print the embedded cluster's libpq URL (for psql)."""
    click.echo(_embedded().url())


@main.command()
@friendly_errors
def migrate() -> None:
    """Apply the schema migrations in sql/ that are not applied yet."""
    with connect() as conn:
        applied = store.migrate(conn)
    click.echo(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else ""),
               err=True)


@main.command()
@click.option("--date", "fallback_date", callback=checked_date, metavar="YYYY-MM-DD",
              help="Date of pages that have no date line.")
@click.argument("paths", nargs=-1, required=True)
@friendly_errors
def parse(fallback_date: dt.date | None, paths: tuple[str, ...]) -> None:
    """Print the ticker of each page as JSON lines (one per currency); store nothing."""
    conf = current_settings()
    read: Callable[[str, dt.date], tuple[str, str | None]] = partial(
        quote_lines, fallback_date=fallback_date, tz=conf.timezone, max_bytes=conf.max_page_bytes)
    failed = False
    # One write per page into the buffered stdout, rather than click.echo's flush per line.
    with writing_stdout():
        for batch in parsed_batches(list(expand(list(paths))), read, conf.timezone):
            for lines, error in batch:
                if error is not None:
                    sys.stdout.flush()
                    click.echo(error, err=True)
                    failed = True
                sys.stdout.write(lines)
    sys.exit(1 if failed else 0)


@main.command()
@click.option("--date", "fallback_date", callback=checked_date, metavar="YYYY-MM-DD",
              help="Date of pages that have no date line.")
@click.argument("sources", nargs=-1, required=True)
@friendly_errors
def ingest(fallback_date: dt.date | None, sources: tuple[str, ...]) -> None:
    """Store the ticker of pages (files, directories, URLs), parsed on every core, in batches."""
    summary = ingest_many(list(sources), fallback_date, current_settings())
    for outcome in summary.rejected:
        click.echo(f"rejected {outcome.source}: {outcome.error}", err=True)
    click.echo(summary.line(), err=True)
    sys.exit(1 if summary.rejected else 0)


@main.command()
@friendly_errors
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


@main.command()
@friendly_errors
def scrape() -> None:
    """Scrape every FXTICKER_SOURCES page once, now; one line per source, exit 1 if any failed."""
    from fxticker.scrape import ScrapeConfig, Scraper

    conf = current_settings()
    config = ScrapeConfig.from_settings(conf)
    url = db.database_url(conf)
    with connect() as conn:
        store.migrate(conn)
    scraper = Scraper(url, config)
    try:
        record = scraper.run()
    finally:
        scraper.close()
    for result in record.results:
        click.echo(result.line())
    if record.database_error:
        state = "recorded" if record.recorded else "not recorded"
        fail(f"{record.error} (run {state}: {len(record.results)} of {record.sources_total} "
             "source(s) attempted)")
    if record.error:
        click.echo(f"fxticker: {record.error}", err=True)
    sys.exit(0 if record.status == "ok" else 1)


@main.command()
@friendly_errors
def schedule() -> None:
    """Scrape every FXTICKER_INTERVAL seconds until stopped; one process acts, the others stand by."""
    from fxticker import scheduler

    conf = current_settings()
    scheduler.run(db.database_url(conf), conf)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", type=click.IntRange(settings.WORKERS.low, settings.WORKERS.high), default=None,
              help="Gunicorn worker processes.  [default: FXTICKER_WORKERS]")
@click.option("--graceful-timeout", default=30, show_default=True, type=click.IntRange(1, 3600),
              help="Seconds requests in flight get to finish after SIGTERM.")
@friendly_errors
def serve(host: str, port: int, workers: int | None, graceful_timeout: int) -> None:
    """Serve the web app and API with gunicorn; SIGTERM stops it gracefully."""
    from fxticker import serve as serving

    conf = current_settings()
    db.database_url(conf)  # start the embedded database before the workers need it
    serving.run(serving.ServeOptions(host=host, port=port, workers=workers or conf.workers,
                                     graceful_timeout=graceful_timeout), conf)


@main.command("export")
@click.option("--currencies", metavar="KZT,UZS", help="Currencies to export (default: all).")
@click.option("--from", "start", metavar="YYYY-MM-DD", help="First day (default: the earliest stored).")
@click.option("--to", "end", metavar="YYYY-MM-DD", help="Last day (default: the latest stored).")
@click.option("--resolution", type=click.Choice(export.RESOLUTIONS), default="daily", show_default=True,
              help="daily: each day's latest quote; raw: every revision with its provenance.")
@click.option("--direction", type=click.Choice(export.DIRECTIONS), default="usd_per_unit", show_default=True,
              help="usd_per_unit: as quoted; per_usd: units of the currency per USD.")
@click.option("--bom", is_flag=True, help="Start with a UTF-8 byte-order mark, for Excel.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (default: standard output).")
@friendly_errors
def export_csv(currencies: str | None, start: str | None, end: str | None, resolution: str,
               direction: str, bom: bool, output: Path | None) -> None:
    """Write stored rates as CSV (the same as the web app's /export.csv)."""
    query = export.make_query(currencies=currencies, start=start, end=end, resolution=resolution,
                              direction=direction)
    with connect() as conn:
        conn.read_only = True
        vocab.check_known("currencies", query.currencies, export.known_currencies(conn))
        if output is None:
            with writing_stdout():
                export.write(conn, query, sys.stdout.buffer, bom=bom)
            return
        try:
            with output.open("wb") as out:
                export.write(conn, query, out, bom=bom)
        except OSError as exc:
            raise ValueError(f"cannot write {output}: {exc.strerror}") from None
    click.echo(f"wrote {output}", err=True)


main.add_command(cli_official.official_group)
main.add_command(cli_backfill.backfill)
