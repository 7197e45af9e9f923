"""`fxticker official`: the central banks' rates, parsed from saved answers, ingested or fetched."""

from __future__ import annotations

import datetime as dt
import sys

import click

from fxticker import vocab
from fxticker.cli.common import checked_date, current_settings, friendly_errors, writing_stdout
from fxticker.cli.connection import connect, database_errors
from fxticker.official import plausible
from fxticker.official import rate_store as official_store
from fxticker.official.answers import OfficialError
from fxticker.official.bank_runs import OfficialConfig, outcome_line, run
from fxticker.official.banks import provider
from fxticker.official.jobs import fetch_window, ingest_answer, json_line, read_answers
from fxticker.storage import cluster, observations

FORCE = click.option("--force", is_flag=True,
                     help=f"Store rates even more than {plausible.FACTOR} times away from the stored ones "
                          "(a redenomination).")


@click.group("official")
def official_group() -> None:
    """Official rates of the central banks (nbk, cbu, nbkr, nbt) and the manat's peg (peg)."""


def _official_key(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
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
    failed = False
    conf = current_settings()
    with writing_stdout():
        for answer in read_answers(key, paths, conf.max_page_bytes, vocab.site_today(conf.timezone)):
            if answer.error is not None:
                click.echo(f"{answer.path}: {answer.error}", err=True)
                failed = True
            for rate in answer.rates:
                click.echo(json_line(rate))
    sys.exit(1 if failed else 0)


@official_group.command("ingest")
@click.argument("key", metavar="PROVIDER", callback=_official_key)
@click.argument("paths", nargs=-1, required=True, metavar="FILE...")
@FORCE
@database_errors
def official_ingest(key: str, paths: tuple[str, ...], force: bool) -> None:
    """Store the rates of saved answers, one transaction per file."""
    total = official_store.Saved()
    failed = False
    conf = current_settings()
    with connect() as conn:
        observations.migrate(conn)
        for answer in read_answers(key, paths, conf.max_page_bytes, vocab.site_today(conf.timezone)):
            try:
                if answer.error is not None:
                    raise OfficialError(answer.error)
                total += ingest_answer(conn, answer, force=force)
            except OfficialError as exc:
                click.echo(f"rejected {answer.path}: {exc}", err=True)
                failed = True
    click.echo(f"{total.new} new, {total.changed} changed, {total.same} unchanged", err=True)
    sys.exit(1 if failed else 0)


@official_group.command("fetch")
@click.option("--provider", "keys", metavar="P[,P]", help="Providers to fetch (default: all).")
@click.option("--since", callback=checked_date, metavar="YYYY-MM-DD", help="First day (default: --until).")
@click.option("--until", callback=checked_date, metavar="YYYY-MM-DD",
              help="Last day (default: today in FXTICKER_TIMEZONE).")
@FORCE
@database_errors
def official_fetch(keys: str | None, since: dt.date | None, until: dt.date | None, force: bool) -> None:
    """Fetch official rates from the banks, politely: a line per provider, exit 1 if any failed."""
    conf = current_settings()
    today = vocab.site_today(conf.timezone)
    chosen, since, until = fetch_window(keys, since, until, today)
    config = OfficialConfig.from_settings(conf)
    with connect(conf) as conn:
        observations.migrate(conn)
    record = run(cluster.database_url(conf), chosen, since, until, today=today, config=config, force=force)
    for outcome in record.outcomes:
        click.echo(outcome_line(outcome, since, until))
    sys.exit(0 if record.ok else 1)
