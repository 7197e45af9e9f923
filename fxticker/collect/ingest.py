"""Ingest: turn pages (files, directories, URLs) into stored observations.

A scrape stores its page in a transaction of its own (store_page). A bulk ingest (ingest_sources) parses
on every core and stores pages in batches, one transaction each: a crash loses at most the batch in
flight, which a re-run stores.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import itertools
import logging
import re
import sys
import zoneinfo
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from importlib import resources
from pathlib import Path

import psycopg

from fxticker import settings, ticker, vocab
from fxticker.collect.fetcher import load
from fxticker.collect.parsing import BATCH_PAGES, expand, page_date, parsed_batches
from fxticker.collect.sources import FetchError, Page, read_file
from fxticker.inputs import display
from fxticker.storage import cluster
from fxticker.storage import observations as store

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


# A page ready to store, or the outcome that says why it is not.
Parsed = store.PageQuotes | PageOutcome


def parse_page(
    page: Page, *, fallback_date: dt.date | None, tz: zoneinfo.ZoneInfo, max_bytes: int,
    today: dt.date | None = None,
) -> Parsed:
    """A fetched page's quotes and day, ready to store, or the outcome that says why it has none."""
    today = today or vocab.site_today(tz)
    try:
        parsed = ticker.parse(page.body, today=today, content_type=page.content_type, max_bytes=max_bytes)
        rate_date = page_date(parsed, page, fallback_date, tz)
        if rate_date > today:
            raise ticker.TickerError(f"the date {rate_date} is in the future (today is {today})")
    except ticker.TickerError as exc:
        return PageOutcome(page.source, error=str(exc))
    content_hash = hashlib.sha256(page.body).hexdigest()
    return store.PageQuotes(parsed.quotes, rate_date, page.source, content_hash, page.seen_at)


def store_page(
    conn: psycopg.Connection,
    page: Page,
    *,
    fallback_date: dt.date | None,
    tz: zoneinfo.ZoneInfo,
    max_bytes: int,
) -> PageOutcome:
    """Parse one fetched page and store it in one transaction; a bad page stores nothing."""
    parsed = parse_page(page, fallback_date=fallback_date, tz=tz, max_bytes=max_bytes)
    if isinstance(parsed, PageOutcome):
        return parsed
    with conn.transaction():
        result = store.save_quotes(conn, parsed.quotes, rate_date=parsed.rate_date, source=parsed.source,
                                   content_hash=parsed.content_hash, seen_at=parsed.seen_at)
    return PageOutcome(page.source, result.new, result.duplicate, parsed.rate_date)


def read_source(
    source: str, today: dt.date, *, fallback_date: dt.date | None, tz: zoneinfo.ZoneInfo, max_bytes: int,
) -> Parsed:
    """Load and parse one file or URL; what a worker of the bulk ingest does for each page."""
    try:
        page = load(source, max_bytes)
    except FetchError as exc:
        name = display(source)
        return PageOutcome(name, error=str(exc).removeprefix(f"{name}: "))
    return parse_page(page, fallback_date=fallback_date, tz=tz, max_bytes=max_bytes, today=today)


def store_batch(conn: psycopg.Connection, batch: Sequence[Parsed]) -> list[PageOutcome]:
    """Store a batch of parsed pages in one transaction (rejected ones pass through): the outcome of each.

    When the database refuses the batch (a constraint, a value), its pages are stored again one
    transaction each, so the pages before the one refused are kept, as a page-by-page ingest would, and
    the error names that page's.
    """
    pages = [p for p in batch if isinstance(p, store.PageQuotes)]
    try:
        with conn.transaction():
            results = iter(store.save_pages(conn, pages))
    except psycopg.OperationalError:
        raise
    except psycopg.Error:
        log.warning("the database refused a batch of %d pages; storing them one by one", len(pages))
        results = iter(_save_one_by_one(conn, pages))
    outcomes = []
    for parsed in batch:
        if isinstance(parsed, PageOutcome):
            outcomes.append(parsed)
        else:
            result = next(results)
            outcomes.append(PageOutcome(parsed.source, result.new, result.duplicate, parsed.rate_date))
    return outcomes


def _save_one_by_one(conn: psycopg.Connection, pages: Sequence[store.PageQuotes]) -> list[store.SaveResult]:
    results = []
    for page in pages:
        with conn.transaction():
            results.append(store.save_quotes(conn, page.quotes, rate_date=page.rate_date, source=page.source,
                                             content_hash=page.content_hash, seen_at=page.seen_at))
    return results


def ingest_sources(
    conn: psycopg.Connection,
    sources: Sequence[str],
    *,
    fallback_date: dt.date | None,
    tz: zoneinfo.ZoneInfo,
    max_bytes: int,
    batch_pages: int = BATCH_PAGES,
) -> Iterator[list[PageOutcome]]:
    """Read, parse and store files and URLs in batches; yield each batch's outcomes once it is stored."""
    read = partial(read_source, fallback_date=fallback_date, tz=tz, max_bytes=max_bytes)
    for batch in parsed_batches(sources, read, tz, batch_pages):
        yield store_batch(conn, batch)


def ingest_many(sources: list[str], fallback_date: dt.date | None,
                conf: settings.Settings | None = None) -> Summary:
    """`fxticker ingest`: every page of sources (directories expanded) stored in batches, with progress."""
    from tqdm import tqdm

    conf = conf or settings.load()
    tz, max_bytes = conf.timezone, conf.max_page_bytes
    items = list(expand(sources))
    summary = Summary()
    with psycopg.connect(cluster.database_url(conf), connect_timeout=10) as conn:
        store.migrate(conn)
        conn.autocommit = True
        batches = ingest_sources(conn, items, fallback_date=fallback_date, tz=tz, max_bytes=max_bytes)
        # The first batch starts the workers (if any) before the progress bar starts its thread.
        first = next(batches, [])
        with tqdm(total=len(items), unit="page", disable=None if len(items) > 20 else True,
                  file=sys.stderr) as progress:
            for outcomes in itertools.chain([first], batches):
                for outcome in outcomes:
                    summary.add(outcome)
                progress.update(len(outcomes))
    return summary


_SAMPLE_NAME = re.compile(r"sample-([0-9]{4}-[0-9]{2}-[0-9]{2})([a-z])\.txt")


def sample_capture(page: Page) -> Page:
    """A bundled sample page as captured on its own day: at noon UTC, a later revision (b after a) an
    hour after the one before.

    A file's capture time is its modification time, and a checkout gives every file the same one: a
    revised day's latest revision would be a tie, not the page written as the later one.
    """
    match = _SAMPLE_NAME.fullmatch(Path(page.source).name)
    if match is None:
        raise ValueError(f"{page.source}: not a sample page name (sample-YYYY-MM-DDx.txt)")
    day = dt.date.fromisoformat(match[1])
    noon = dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC)
    return dataclasses.replace(page, seen_at=noon + dt.timedelta(hours=ord(match[2]) - ord("a")))


def load_sample(conn: psycopg.Connection, conf: settings.Settings) -> Summary:
    """Store the bundled sample pages, each as captured on its own day (sample_capture)."""
    tz, max_bytes = conf.timezone, conf.max_page_bytes
    summary = Summary()
    with resources.as_file(resources.files("fxticker") / "samples") as folder:
        for path in sorted(Path(folder).glob("sample-*.txt")):
            page = sample_capture(read_file(path, max_bytes))
            summary.add(store_page(conn, page, fallback_date=None, tz=tz, max_bytes=max_bytes))
    return summary
