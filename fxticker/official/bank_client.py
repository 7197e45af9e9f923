"""Asking the banks: one reused connection per bank, a pause between requests, retries; HTTP only.

Each request's outcome is yielded as it comes, so the caller stores what arrived before a bank went
down. The retries, timeouts, size cap and User-Agent are fxticker.collect.fetcher's, the same as for pages.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx

from fxticker.collect import fetcher
from fxticker.official import banks as reg
from fxticker.official.answers import (
    OfficialError,
    OfficialRate,
    WrongDate,
    check_dates,
    parse,
    parse_nbkr_history,
)
from fxticker.official.banks import Bank

# NBKR's history page holds at most a year per request: 365 days, both ends included.
NBKR_HISTORY_SPAN = dt.timedelta(days=364)


@dataclass(frozen=True)
class Answer:
    """Rates a request brought back."""

    url: str
    fetched_at: dt.datetime
    rates: list[OfficialRate]


@dataclass(frozen=True)
class Refused:
    """A request whose answer yields no row: dated otherwise (a holiday, NBT's today), or not valid."""

    url: str
    reason: str
    invalid: bool  # True: not a valid answer (an error); False: a well-formed answer for another day


@dataclass(frozen=True)
class Asker:
    """How to ask: the client shared by a bank's requests, its retries and size cap, the pause between
    requests, and the sleep that waits (the scheduler's is cut short by a stop)."""

    client: httpx.Client
    policy: fetcher.FetchPolicy
    max_bytes: int
    pause: float
    sleep: Callable[[float], None] = time.sleep


def days(since: dt.date, until: dt.date) -> Iterator[dt.date]:
    for n in range((until - since).days + 1):
        yield since + dt.timedelta(days=n)


def _get(asker: Asker, url: str, first: bool) -> tuple[bytes, dt.datetime] | Refused:
    """The body of a 200; a Refused for any other status; FetchError when the bank cannot be reached."""
    if not first and asker.pause > 0:
        asker.sleep(asker.pause)
    answer = fetcher.get(asker.client, url, max_bytes=asker.max_bytes, policy=asker.policy, sleep=asker.sleep)
    if answer.status != 200:
        return Refused(url, f"HTTP {answer.status}", invalid=True)
    return answer.body, dt.datetime.now(dt.UTC)


def _one(asker: Asker, p: Bank, url: str, asked: dt.date | None, first: bool, today: dt.date,
         keep: Callable[[OfficialRate], bool] | None = None) -> Answer | Refused:
    got = _get(asker, url, first)
    if isinstance(got, Refused):
        return got
    body, fetched_at = got
    try:
        rates = parse(p.key, body, asked)
        check_dates(p.key, rates, today)
    except WrongDate as exc:
        return Refused(url, str(exc), invalid=False)
    except OfficialError as exc:
        return Refused(url, str(exc), invalid=True)
    if keep is not None:
        outside = [r for r in rates if not keep(r)]
        if outside:
            return Refused(url, f"answered for {outside[0].rate_date.isoformat()}, outside the days asked",
                           invalid=False)
    return Answer(url, fetched_at, rates)


def ask(asker: Asker, p: Bank, origin: str, since: dt.date, until: dt.date,
        today: dt.date) -> Iterator[Answer | Refused]:
    """Every request for provider p's rates of [since, until]; raises FetchError when it is down."""
    if p.key == "nbkr":
        yield from _ask_nbkr(asker, p, origin, since, until, today)
        return
    url_of = {"nbk": reg.nbk_url, "cbu": reg.cbu_url, "nbt": reg.nbt_url}[p.key]
    first = True
    for day in days(since, until):
        # A weekend's answer would be Friday's, or Friday's rates dated Saturday (NBT): not asked at all.
        if not reg.publishes_on(p, day):
            continue
        yield _one(asker, p, url_of(origin, day), day, first, today)
        first = False


def _ask_nbkr(asker: Asker, p: Bank, origin: str, since: dt.date, until: dt.date,
              today: dt.date) -> Iterator[Answer | Refused]:
    first = True
    start = max(since, p.coverage_start)
    end = min(until, today)
    while start <= end:
        chunk_end = min(end, start + NBKR_HISTORY_SPAN)
        url = reg.nbkr_history_url(origin, start, chunk_end)
        got = _get(asker, url, first)
        first = False
        if isinstance(got, Refused):
            yield got
        else:
            body, fetched_at = got
            try:
                rates = parse_nbkr_history(body, start, chunk_end)
                check_dates(p.key, rates, today)
                yield Answer(url, fetched_at, rates)
            except OfficialError as exc:
                yield Refused(url, str(exc), invalid=True)
        start = chunk_end + dt.timedelta(days=1)
    if until >= today:
        # The history lags; daily.xml has the newest rate, often dated tomorrow (published the day before).
        yield _one(asker, p, reg.nbkr_daily_url(origin), None, first, today,
                   keep=lambda r: since <= r.rate_date <= until)
