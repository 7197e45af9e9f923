"""The command line: thin wiring of fetch, parse, store and serve, with reports on stdout and stderr."""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial, wraps
from pathlib import Path
from typing import Any, TypeVar

import click
import psycopg

from fxticker import __version__, db, export, settings, store, vocab
from fxticker.fetch import FetchError
from fxticker.ingest import expand, ingest_many, load_sample, parsed_batches, quote_lines, site_today

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger("fxticker")


def fail(message: str) -> None:
    click.echo(f"fxticker: {message}", err=True)
    sys.exit(1)


def friendly_errors(func: F) -> F:
    """Turn the errors a user can cause or fix into one line on stderr and exit status 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (db.DatabaseError, store.MigrationError, ValueError, FetchError) as exc:
            fail(str(exc))
        except psycopg.OperationalError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            fail(f"cannot reach the database: {first}")
        except psycopg.Error as exc:
            fail(f"database error: {exc.diag.message_primary or exc}")
        return None

    return wrapper  # type: ignore[return-value]


def current_settings() -> settings.Settings:
    """The settings main() read and checked as the command started; read now outside a command."""
    context = click.get_current_context(silent=True)
    conf = context.find_object(settings.Settings) if context is not None else None
    return conf if conf is not None else settings.load()


@contextmanager
def writing_stdout() -> Iterator[None]:
    """Data for stdout: a full disk, a closed pipe or any write error is one line on stderr."""
    try:
        yield
        sys.stdout.flush()
    except OSError as exc:
        # Whatever is still buffered cannot go out either; pointing stdout at /dev/null keeps the
        # interpreter's last flush from printing a second error with a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        raise ValueError(f"cannot write to standard output: {exc.strerror or exc}") from None


@contextmanager
def connect(conf: settings.Settings | None = None) -> Iterator[psycopg.Connection]:
    url = db.database_url(conf or current_settings())
    with psycopg.connect(url, connect_timeout=10) as conn:
        yield conn


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


def _parse_date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        date = vocab.parse_date(value)
    except ValueError as exc:
        raise click.BadParameter(f"{vocab.shown(value)} is {exc}") from None
    if date < vocab.EARLIEST:
        raise click.BadParameter(f"{vocab.shown(value)} is before {vocab.EARLIEST}, older than any ticker")
    return date


@main.command()
@click.option("--date", "fallback_date", callback=_parse_date, metavar="YYYY-MM-DD",
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
@click.option("--date", "fallback_date", callback=_parse_date, metavar="YYYY-MM-DD",
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


@main.group("official")
def official_group() -> None:
    """Official rates of the central banks (nbk, cbu, nbkr, nbt) and the manat's peg (peg)."""


def _official_key(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    from fxticker.official.providers import provider

    try:
        return provider(value).key
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@official_group.command("parse")
@click.argument("key", metavar="PROVIDER", callback=_official_key)
@click.argument("paths", nargs=-1, required=True, metavar="FILE...")
@friendly_errors
def official_parse(key: str, paths: tuple[str, ...]) -> None:
    """Print the rates of saved answers as JSON lines, one per day; store nothing."""
    from fxticker.official.commands import json_line, read_answers

    failed = False
    for answer in read_answers(key, paths, current_settings().max_page_bytes):
        if answer.error is not None:
            click.echo(f"{answer.path}: {answer.error}", err=True)
            failed = True
        for rate in answer.rates:
            click.echo(json_line(rate))
    sys.exit(1 if failed else 0)


@official_group.command("ingest")
@click.argument("key", metavar="PROVIDER", callback=_official_key)
@click.argument("paths", nargs=-1, required=True, metavar="FILE...")
@friendly_errors
def official_ingest(key: str, paths: tuple[str, ...]) -> None:
    """Store the rates of saved answers, one transaction per file."""
    from fxticker.official import store as official_store
    from fxticker.official.commands import ingest_answer, read_answers

    total = official_store.Saved()
    failed = False
    with connect() as conn:
        store.migrate(conn)
        for answer in read_answers(key, paths, current_settings().max_page_bytes):
            if answer.error is not None:
                click.echo(f"rejected {answer.path}: {answer.error}", err=True)
                failed = True
                continue
            total += ingest_answer(conn, answer)
    click.echo(f"{total.new} new, {total.changed} changed, {total.same} unchanged", err=True)
    sys.exit(1 if failed else 0)


@official_group.command("fetch")
@click.option("--provider", "keys", metavar="P[,P]", help="Providers to fetch (default: all).")
@click.option("--since", callback=_parse_date, metavar="YYYY-MM-DD", help="First day (default: --until).")
@click.option("--until", callback=_parse_date, metavar="YYYY-MM-DD",
              help="Last day (default: today in FXTICKER_TIMEZONE).")
@friendly_errors
def official_fetch(keys: str | None, since: dt.date | None, until: dt.date | None) -> None:
    """Fetch official rates from the banks, politely: a line per provider, exit 1 if any failed."""
    from fxticker.official.commands import fetch_window
    from fxticker.official.run import OfficialConfig, outcome_line, run

    conf = current_settings()
    today = site_today(conf.timezone)
    chosen, since, until = fetch_window(keys, since, until, today)
    config = OfficialConfig.from_settings(conf)
    with connect(conf) as conn:
        store.migrate(conn)
    record = run(db.database_url(conf), chosen, since, until, today=today, config=config)
    for outcome in record.outcomes:
        click.echo(outcome_line(outcome, since, until))
    sys.exit(0 if record.ok else 1)


@main.command()
@click.option("--since", callback=_parse_date, metavar="YYYY-MM-DD", help="First day of captures (UTC).")
@click.option("--until", callback=_parse_date, metavar="YYYY-MM-DD", help="Last day of captures (UTC).")
@click.option("--dry-run", is_flag=True, help="List what would be fetched (count per month); fetch nothing.")
@click.option("--official/--no-official", default=True, show_default=True,
              help="Then fetch the official rates of the days the stored quotes of the range cover.")
@click.argument("urls", nargs=-1)
@friendly_errors
def backfill(since: dt.date | None, until: dt.date | None, dry_run: bool, official: bool,
             urls: tuple[str, ...]) -> None:
    """Store the ticker of a web archive's captures of URLs (default: FXTICKER_SOURCES); resumable."""
    from fxticker import backfill as backfilling
    from fxticker.archive import ArchiveError
    from fxticker.fetch import FetchError, check_url

    if since and until and since > until:
        raise click.BadParameter(f"{since} is after --until {until}", param_hint="'--since'")
    for url in urls:
        try:
            check_url(url)
        except FetchError as exc:
            raise click.BadParameter(str(exc), param_hint="'URL'") from None
    config = backfilling.BackfillConfig.from_settings(current_settings())
    # A line per request would bury the progress bar; retries and 429 pauses are still logged.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with connect() as conn:
        store.migrate(conn)
        try:
            work, summary = backfilling.backfill(conn, config, urls or config.urls(), since, until,
                                                 dry_run=dry_run, progress=True)
        except ArchiveError as exc:
            fail(str(exc))
            return
        except KeyboardInterrupt:
            fail("interrupted while listing captures; nothing was fetched")
            return
    if dry_run:
        for month, count in work.months().items():
            click.echo(f"{month}\t{count}")
        click.echo(f"dry run: {work.listed} capture(s) listed, {work.known} already known, "
                   f"{len(work.todo)} to fetch", err=True)
        return
    for line in summary.rejected:
        click.echo(f"rejected {line}", err=True)
    for line in summary.failed:
        click.echo(f"failed {line}", err=True)
    click.echo(summary.line(), err=True)
    if summary.stopped:
        fail(f"stopped: {summary.stopped}")
    official_ok = _official_history(since, until) if official else True
    sys.exit(0 if summary.ok and official_ok else 1)


def _official_history(since: dt.date | None, until: dt.date | None) -> bool:
    """The backfill's second part: official rates for the days of the stored quotes in the range."""
    from fxticker.official.providers import PROVIDERS
    from fxticker.official.run import OfficialConfig, history_window, outcome_line, run

    conf = current_settings()
    today = site_today(conf.timezone)
    with connect(conf) as conn:
        window = history_window(conn, since, until, today)
    if window is None:
        click.echo("official rates: no stored quotes in the range, nothing to fetch", err=True)
        return True
    record = run(db.database_url(conf), list(PROVIDERS.values()), *window, today=today,
                 config=OfficialConfig.from_settings(conf), trigger="backfill")
    for outcome in record.outcomes:
        click.echo(f"official {outcome_line(outcome, *window)}", err=True)
    return record.ok
