"""What `fxticker official parse|ingest|fetch` do; cli_official.py wires them to the command line."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

from fxticker import vocab
from fxticker.collect.sources import FetchError, Page, read_file
from fxticker.official import plausible, rate_store
from fxticker.official.answers import DAYS_AHEAD, OfficialError, OfficialRate, check_dates, parse
from fxticker.official.banks import PROVIDERS, Bank, parse_keys


@dataclass(frozen=True)
class FileRates:
    """A saved answer read: its rates, or the one-line reason it is not a valid answer of the provider."""

    path: str
    page: Page | None
    rates: list[OfficialRate]
    error: str | None


def read_answers(key: str, paths: tuple[str, ...], max_bytes: int, today: dt.date) -> Iterator[FileRates]:
    """Each saved answer's rates, or why it is refused (not the bank's, or dated from nowhere)."""
    for path in paths:
        try:
            page = read_file(Path(path), max_bytes)
            rates = parse(key, page.body)
            check_dates(key, rates, today)
        except (FetchError, OfficialError) as exc:
            yield FileRates(path, None, [], str(exc).removeprefix(f"{path}: "))
            continue
        yield FileRates(path, page, rates, None)


def json_line(rate: OfficialRate) -> str:
    """The `official parse` line: per_usd a string, so that no JSON reader rounds it."""
    return json.dumps({"provider": rate.provider, "date": rate.rate_date.isoformat(),
                       "currency": rate.currency, "per_usd": vocab.decimal_text(rate.per_usd)})


def ingest_answer(conn: psycopg.Connection, answer: FileRates, *, force: bool = False) -> rate_store.Saved:
    """Store one file's rates in a transaction of its own (a file's time is its modification time);
    OfficialError, storing nothing, when one is not believed beside the stored ones (unless forced)."""
    assert answer.page is not None
    reason = None if force else plausible.doubt(conn, answer.rates)
    if reason is not None:
        raise OfficialError(reason)
    with conn.transaction():
        return rate_store.save_rates(conn, answer.rates, source=answer.page.source,
                                     fetched_at=answer.page.seen_at)


def fetch_window(keys: str | None, since: dt.date | None, until: dt.date | None,
                 today: dt.date) -> tuple[list[Bank], dt.date, dt.date]:
    """The providers and days `official fetch` asks for: today by default; never after tomorrow."""
    chosen = parse_keys(keys) if keys is not None else list(PROVIDERS.values())
    until = until or today
    since = since or until
    # NBKR publishes for tomorrow; nobody has rates for later.
    if until > today + dt.timedelta(days=DAYS_AHEAD):
        raise ValueError(f"--until {until.isoformat()} is after tomorrow: no bank has rates for it yet")
    vocab.date_range(since, until, f"--since {since.isoformat()}", f"--until {until.isoformat()}")
    return chosen, since, until
