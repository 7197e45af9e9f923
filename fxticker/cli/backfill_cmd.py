"""`fxticker backfill`: the ticker's history from a web archive, then the official rates of those days."""

from __future__ import annotations

import datetime as dt
import logging
import sys

import click

from fxticker import vocab
from fxticker.cli.common import checked_date, current_settings, fail
from fxticker.cli.connection import connect, database_errors
from fxticker.collect import backfill as backfilling
from fxticker.collect.archive import ArchiveError
from fxticker.collect.fetcher import check_url
from fxticker.collect.sources import FetchError
from fxticker.official.bank_runs import OfficialConfig, history_window, outcome_line, run
from fxticker.official.banks import PROVIDERS
from fxticker.storage import cluster, observations


@click.command()
@click.option("--since", callback=checked_date, metavar="YYYY-MM-DD", help="First day of captures (UTC).")
@click.option("--until", callback=checked_date, metavar="YYYY-MM-DD", help="Last day of captures (UTC).")
@click.option("--dry-run", is_flag=True, help="List what would be fetched (count per month); fetch nothing.")
@click.option("--official/--no-official", default=True, show_default=True,
              help="Then fetch the official rates of the days the stored quotes of the range cover.")
@click.argument("urls", nargs=-1)
@database_errors
def backfill(since: dt.date | None, until: dt.date | None, dry_run: bool, official: bool,
             urls: tuple[str, ...]) -> None:
    """Store the ticker of a web archive's captures of URLs (default: FXTICKER_SOURCES); resumable."""
    try:
        vocab.date_range(since, until, str(since), f"--until {until}")
    except vocab.BadValue as exc:
        raise click.BadParameter(str(exc), param_hint="'--since'") from None
    for url in urls:
        try:
            check_url(url)
        except FetchError as exc:
            raise click.BadParameter(str(exc), param_hint="'URL'") from None
    config = backfilling.BackfillConfig.from_settings(current_settings())
    # A line per request would bury the progress bar; retries and 429 pauses are still logged.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with connect() as conn:
        observations.migrate(conn)
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
    conf = current_settings()
    today = vocab.site_today(conf.timezone)
    with connect(conf) as conn:
        window = history_window(conn, since, until, today)
    if window is None:
        click.echo("official rates: no stored quotes in the range, nothing to fetch", err=True)
        return True
    record = run(cluster.database_url(conf), list(PROVIDERS.values()), *window, today=today,
                 config=OfficialConfig.from_settings(conf), trigger="backfill")
    for outcome in record.outcomes:
        click.echo(f"official {outcome_line(outcome, *window)}", err=True)
    return record.ok
