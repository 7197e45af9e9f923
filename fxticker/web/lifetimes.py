"""How long a cache (a browser, a CDN) may keep a successful API answer: its Cache-Control, as Frankfurter
words it (lib/versions/v1.rb, lib/versions/v2.rb), with fxticker's own clock.

Frankfurter's data changes once a day; fxticker's on every scrape, so its rules are:
- an answer about fixed, settled days (a date, or a range with its end) is kept a day, and a CDN may
  serve it a day longer while it revalidates or while fxticker errs: `public, max-age=86400,
  stale-while-revalidate=86400, stale-if-error=86400` in /v2, `public, max-age=86400` in /v1. A day is
  settled when it is at least SETTLED days before the latest date anywhere (vocab.latest_today): the
  ticker quotes a day, and revises it, on that day only, and a central bank dates a rate at most one day
  ahead, so no scheduled scrape or fetch changes it any more. (A backfill of old archive captures can;
  it is an operator's deliberate act, after which a CDN keeps the old answer up to a day.)
- any other answer (latest, a range without an end, a date not settled, the lists) is kept until the
  next scheduled scrape can start, and no longer: the last scheduled scrape's start plus
  FXTICKER_INTERVAL, less FXTICKER_JITTER (a scrape starts at its slot plus up to the jitter); 0 when
  that moment has passed or no scrape was ever scheduled. A CDN may serve it stale only while fxticker
  errs (`stale-if-error`), never while it revalidates.
"""

from __future__ import annotations

import datetime as dt
import re

import psycopg
from flask import current_app, request

from fxticker import vocab
from fxticker.storage import scrape_runs
from fxticker.web.errors import Unavailable
from fxticker.web.pool import read_connection

DAY = 86_400
SETTLED = dt.timedelta(days=2)
SETTLED_V2 = f"public, max-age={DAY}, stale-while-revalidate={DAY}, stale-if-error={DAY}"
SETTLED_V1 = f"public, max-age={DAY}"
# While the next scrape is due (or none is scheduled), the database is asked again at most this often per
# worker; meanwhile the answer is max-age=0, which is always safe.
_RECHECK = dt.timedelta(seconds=30)
_V1_DAYS = re.compile(rf"/v1/({vocab.DATE_PATTERN})(\.\.({vocab.DATE_PATTERN})?)?", re.ASCII)
_V2_DATED = ("/v2/rates", "/v2/rates.csv")


def cache_control(now: dt.datetime | None = None) -> str:
    """The Cache-Control of this request's successful answer."""
    now = now or dt.datetime.now(dt.UTC)
    last = fixed_day()
    if last is not None and last <= vocab.latest_today(now) - SETTLED:
        return SETTLED_V1 if request.path.startswith("/v1/") else SETTLED_V2
    return f"public, max-age={seconds_to_next_scrape(now)}, stale-if-error={DAY}"


def fixed_day() -> dt.date | None:
    """The last day this request asks about when it names it (`date`, a range's `to`, /v1/DAY, /v1/A..B);
    None when the answer follows today (latest, a range without an end, the lists)."""
    path, args = request.path, request.args
    text: str | None = None
    if path in _V2_DATED or path.startswith("/v2/rate/"):
        text = args.get("to") if "from" in args else args.get("date")
    elif (days := _V1_DAYS.fullmatch(path)) is not None:
        text = days[3] if days[2] else days[1]
    if text is None:
        return None
    try:
        return vocab.parse_date(text)
    except vocab.BadValue:
        return None


def seconds_to_next_scrape(now: dt.datetime) -> int:
    """Whole seconds until the next scheduled scrape can start (see the module doc), kept per worker."""
    kept: dict[str, dt.datetime | None] = current_app.extensions.setdefault("fxticker_next_scrape", {})
    due, asked = kept.get("due"), kept.get("asked")
    if asked is None or ((due is None or due <= now) and now - asked >= _RECHECK):
        due = _next_scrape()
        kept["due"], kept["asked"] = due, now
    return max(0, int((due - now).total_seconds())) if due is not None else 0


def _next_scrape() -> dt.datetime | None:
    conf = current_app.extensions["fxticker_settings"]
    try:
        with read_connection() as conn:
            last = scrape_runs.last_scheduled_start(conn)
    except (psycopg.Error, Unavailable):
        return None
    if last is None:
        return None
    return last + dt.timedelta(seconds=conf.interval - conf.scrape_jitter)
