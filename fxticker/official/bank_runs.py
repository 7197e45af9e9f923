"""One official-rates run: ask each provider for a range of days, store what comes, record how it went.

The wiring the CLI (`fxticker official fetch`), the scheduler and the backfill share. Each answer is
stored in a transaction of its own as it arrives; each provider is a part of the run of its own, so a bank
that is down or answers garbage fails its part only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import psycopg

from fxticker import vocab
from fxticker.collect import fetcher
from fxticker.collect.sources import FetchError
from fxticker.inputs import first_line
from fxticker.official import bank_client as official_fetch
from fxticker.official import plausible, rate_store
from fxticker.official.answers import peg_rates
from fxticker.official.banks import PEGS, Bank, origins
from fxticker.official.check import WINDOW
from fxticker.settings import Settings
from fxticker.storage import observation_days
from fxticker.storage.scrape_runs import host_id, process_gone

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OfficialConfig:
    origins: dict[str, str]
    policy: fetcher.FetchPolicy
    max_bytes: int
    pause: float

    @classmethod
    def from_settings(cls, conf: Settings) -> OfficialConfig:
        # The same timeouts, retries and size cap as the ticker's pages: one home for politeness.
        return cls(origins=origins(conf.official_origins), policy=fetcher.FetchPolicy.from_settings(conf),
                   max_bytes=conf.max_page_bytes, pause=conf.official_pause)


@dataclass(frozen=True)
class OfficialRun:
    run_id: int
    since: dt.date
    until: dt.date
    outcomes: list[rate_store.ProviderOutcome]

    @property
    def ok(self) -> bool:
        return all(o.status == "ok" for o in self.outcomes)


def outcome_line(o: rate_store.ProviderOutcome, since: dt.date, until: dt.date) -> str:
    span = since.isoformat() if since == until else f"{since.isoformat()}..{until.isoformat()}"
    counts = (f"{o.saved.new} new, {o.saved.changed} changed, {o.saved.same} unchanged, "
              f"{o.days_refused} answered for another day, {o.requests} request(s)")
    status = "ok    " if o.status == "ok" else "failed"
    return f"{status} {o.provider:<5} {span}: {counts}" + (f": {o.error}" if o.error else "")


class Stopped(Exception):
    """The process is stopping: raised by the scheduler's sleep, it ends a run between two requests."""


def _fetch_provider(conn: psycopg.Connection, p: Bank, since: dt.date, until: dt.date, today: dt.date,
                    config: OfficialConfig, sleep: Callable[[float], None],
                    force: bool = False) -> rate_store.ProviderOutcome:
    started = dt.datetime.now(dt.UTC)
    saved = rate_store.Saved()
    requests = refused = 0
    errors: list[str] = []
    if p.key in PEGS:
        with conn.transaction():
            saved = rate_store.save_rates(conn, peg_rates(p.key, since, until), source=None,
                                          fetched_at=started)
    else:
        with fetcher.make_client(config.policy) as client:
            asker = official_fetch.Asker(client, config.policy, config.max_bytes, config.pause, sleep)
            try:
                for item in official_fetch.ask(asker, p, config.origins[p.key], since, until, today):
                    requests += 1
                    if isinstance(item, official_fetch.Refused):
                        if item.invalid:
                            errors.append(f"{item.url}: {item.reason}")
                        else:
                            refused += 1
                            log.info("%s: %s: %s (no row)", p.key, item.url, item.reason)
                        continue
                    doubt = None if force else plausible.doubt(conn, item.rates)
                    if doubt is not None:
                        errors.append(f"{item.url}: {doubt}")
                        continue
                    with conn.transaction():
                        saved += rate_store.save_rates(conn, item.rates, source=item.url,
                                                  fetched_at=item.fetched_at)
            except FetchError as exc:
                # The bank is unreachable: stop asking it, keep what it gave, let the others go on.
                requests += 1
                errors.append(str(exc))
            except Stopped:
                errors.append("stopped before the last request")
            except Exception as exc:  # a defect: this provider fails, the next ones still run
                log.exception("%s: unexpected error", p.key)
                errors.append(f"unexpected error: {first_line(exc)}")
    error = None
    if errors:
        more = f" (and {len(errors) - 1} more failed request(s))" if len(errors) > 1 else ""
        error = errors[0] + more
        for message in errors:
            log.warning("%s: %s", p.key, message)
    return rate_store.ProviderOutcome(p.key, started, dt.datetime.now(dt.UTC), "failed" if errors else "ok",
                                 requests, saved, refused, error)


def run(database_url: str, chosen: Sequence[Bank], since: dt.date, until: dt.date, *,
        today: dt.date, config: OfficialConfig, trigger: str = "manual",
        sleep: Callable[[float], None] = time.sleep,
        should_stop: Callable[[], bool] = lambda: False, force: bool = False) -> OfficialRun:
    """Fetch and store the chosen providers' rates for [since, until]; `today`: the banks' date now;
    `force`: store rates even when they are not believed beside the stored ones (official.plausible)."""
    vocab.date_range(since, until, f"--since {since.isoformat()}", f"--until {until.isoformat()}")
    with psycopg.connect(database_url, autocommit=True, connect_timeout=10) as conn:
        # A run killed before it could record its end (kill -9, a lost machine) is closed by the next.
        rate_store.close_dead(conn, process_gone)
        run_id = rate_store.start_run(conn, started_at=dt.datetime.now(dt.UTC), trigger=trigger,
                                      host=host_id(), since=since, until=until)
        outcomes = []
        try:
            for p in chosen:
                if should_stop():
                    break
                outcome = _fetch_provider(conn, p, since, until, today, config, sleep, force)
                rate_store.record_provider(conn, run_id, outcome)
                outcomes.append(outcome)
        except BaseException as exc:
            # Recorded when the database still answers; the error that stopped the run is the one raised.
            with contextlib.suppress(psycopg.Error):
                rate_store.finish_run(conn, run_id, finished_at=dt.datetime.now(dt.UTC), status="failed",
                                 error=str(exc) or type(exc).__name__)
            raise
        failed = [o.provider for o in outcomes if o.status != "ok"]
        rate_store.finish_run(conn, run_id, finished_at=dt.datetime.now(dt.UTC),
                         status="failed" if failed else "ok",
                         error=f"failed: {', '.join(failed)}" if failed else None)
    return OfficialRun(run_id, since, until, outcomes)


# The scheduler's daily run looks back a week: a day a bank published late, or a run that failed, is
# filled in by the next days' runs (storing a rate again changes nothing).
DAILY_LOOKBACK = dt.timedelta(days=7)


def daily_window(p: Bank, today: dt.date, first_quote: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The days a scheduled run asks for: the last week (NBKR: and tomorrow). A peg costs no request, so
    its run covers every stored quote from the first (`first_quote`), and the check has it from the start."""
    since = today - DAILY_LOOKBACK
    if p.key in PEGS and first_quote is not None:
        since = min(since, max(first_quote, PEGS[p.key].since))
    return since, today + dt.timedelta(days=p.days_ahead)


def first_quote(conn: psycopg.Connection) -> dt.date | None:
    return observation_days.first_day(conn)


def last_scheduled(conn: psycopg.Connection) -> dict[str, dt.datetime]:
    """When each provider's latest scheduled fetch started, to catch up on a day a leader missed."""
    rows = conn.execute(
        "SELECT p.provider, max(p.started_at) FROM official_run_provider p"
        " JOIN official_run r ON r.id = p.run_id WHERE r.trigger = 'schedule' GROUP BY p.provider").fetchall()
    return {str(key): when for key, when in rows}


# The backfill fetches the official rates as far back as the check looks for one.
HISTORY_LOOKBACK = WINDOW


def history_window(conn: psycopg.Connection, since: dt.date | None, until: dt.date | None,
                   today: dt.date) -> tuple[dt.date, dt.date] | None:
    """The days `fxticker backfill` fetches official rates for: those of the stored ticker quotes within
    [since, until], a week earlier included (the check reaches 7 days back); None when there are none."""
    span = observation_days.day_span(conn, since, until)
    if span is None:
        return None
    return span[0] - HISTORY_LOOKBACK, min(span[1], today)
