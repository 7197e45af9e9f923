"""Ingest: turn pages (files, directories, URLs) into stored observations, one transaction per page."""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from fxticker import store, ticker
from fxticker.fetch import FetchError, Page, fetch_url, is_url, read_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PageOutcome:
    source: str
    new: int = 0
    duplicate: int = 0
    rate_date: dt.date | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Summary:
    pages: int = 0
    new: int = 0
    duplicate: int = 0
    rejected: list[PageOutcome] = field(default_factory=list)

    def add(self, outcome: PageOutcome) -> None:
        self.pages += 1
        self.new += outcome.new
        self.duplicate += outcome.duplicate
        if not outcome.ok:
            self.rejected.append(outcome)

    def line(self) -> str:
        return (
            f"{self.pages} page(s) read, {self.new} observation(s) new, "
            f"{self.duplicate} duplicate(s), {len(self.rejected)} page(s) rejected"
        )


def expand(sources: list[str]) -> Iterator[str]:
    """Paths and URLs as given, directories replaced by their files (recursively, sorted)."""
    for source in sources:
        path = Path(source)
        if not is_url(source) and path.is_dir():
            yield from (str(p) for p in sorted(path.rglob("*")) if p.is_file())
        else:
            yield source


def page_date(
    parsed: ticker.TickerPage, page: Page, fallback: dt.date | None, tz: zoneinfo.ZoneInfo
) -> dt.date:
    """The day the ticker showed: its date line, else --date, else (for URLs) the fetch day on site time."""
    if parsed.date is not None:
        return parsed.date
    if fallback is not None:
        return fallback
    if not page.is_file:
        return page.seen_at.astimezone(tz).date()
    raise ticker.TickerError("the page has no date line; give its date with --date YYYY-MM-DD")


def site_today(tz: zoneinfo.ZoneInfo, now: dt.datetime | None = None) -> dt.date:
    return (now or dt.datetime.now(dt.UTC)).astimezone(tz).date()


def store_page(
    conn: psycopg.Connection,
    page: Page,
    *,
    fallback_date: dt.date | None,
    tz: zoneinfo.ZoneInfo,
    max_bytes: int,
) -> PageOutcome:
    """Parse one fetched page and store it in one transaction; a bad page stores nothing."""
    try:
        today = site_today(tz)
        parsed = ticker.parse(page.body, today=today, content_type=page.content_type, max_bytes=max_bytes)
        rate_date = page_date(parsed, page, fallback_date, tz)
        if rate_date > today:
            raise ticker.TickerError(f"the date {rate_date} is in the future (today is {today})")
    except ticker.TickerError as exc:
        return PageOutcome(page.source, error=str(exc))
    with conn.transaction():
        result = store.save_quotes(
            conn,
            parsed.quotes,
            rate_date=rate_date,
            source=page.source,
            content_hash=page.content_hash,
            seen_at=page.seen_at,
        )
    return PageOutcome(page.source, result.new, result.duplicate, rate_date)


def load(source: str, max_bytes: int) -> Page:
    if is_url(source):
        return fetch_url(source, max_bytes)
    return read_file(Path(source), max_bytes)


def ingest_source(
    conn: psycopg.Connection,
    source: str,
    *,
    fallback_date: dt.date | None,
    tz: zoneinfo.ZoneInfo,
    max_bytes: int,
) -> PageOutcome:
    try:
        page = load(source, max_bytes)
    except FetchError as exc:
        return PageOutcome(source, error=str(exc).removeprefix(f"{source}: "))
    return store_page(conn, page, fallback_date=fallback_date, tz=tz, max_bytes=max_bytes)
