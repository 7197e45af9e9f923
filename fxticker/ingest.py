"""Ingest: turn pages (files, directories, URLs) into stored observations.

A scrape stores its page in a transaction of its own (store_page). A bulk ingest (ingest_sources) parses
on every core and stores pages in batches, one transaction each: a crash loses at most the batch in
flight, which a re-run stores.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import logging
import multiprocessing
import os
import re
import stat
import sys
import threading
import zoneinfo
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from importlib import resources
from multiprocessing.pool import AsyncResult
from pathlib import Path
from typing import TypeVar

import psycopg

from fxticker import db, settings, store, ticker, vocab
from fxticker.fetch import FetchError, Page, check_source, display, fetch_url, is_url, read_file

log = logging.getLogger(__name__)

# Pages per transaction of a bulk ingest: large enough that the round trips and the statement's fixed
# costs vanish per page, small enough that a crash costs little to redo and memory stays flat.
BATCH_PAGES = 250
# Fewer pages than this are parsed in this process: starting workers would cost more than it saves.
POOL_MIN_PAGES = 2 * BATCH_PAGES


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
    """Paths and URLs as given, directories replaced by their files (recursively, sorted).

    Every source is checked (fetch.check_source) before any is yielded, so one bad argument refuses the
    run before anything is stored. What cannot be listed or read is yielded as it is, for read_file to
    reject with its reason: one page rejected, not the run stopped.
    """
    checked = [check_source(source) for source in sources]
    for source in checked:
        if not is_url(source) and _is_dir(source):
            yield from _files_under(source)
        else:
            yield source


def _is_dir(path: str) -> bool:
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):  # too long, not searchable, a NUL byte: read_file says which
        return False


def _files_under(top: str) -> list[str]:
    found: list[str] = []
    # onerror: a subdirectory that cannot be listed becomes a source of its own, rejected with the reason.
    for folder, dirs, files in os.walk(top, onerror=lambda exc: found.append(str(exc.filename))):
        dirs.sort()
        found.extend(os.path.join(folder, name) for name in files)
    return sorted(found)


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


# A page ready to store, or the outcome that says why it is not.
Parsed = store.PageQuotes | PageOutcome
T = TypeVar("T")


def parse_page(
    page: Page, *, fallback_date: dt.date | None, tz: zoneinfo.ZoneInfo, max_bytes: int,
    today: dt.date | None = None,
) -> Parsed:
    """A fetched page's quotes and day, ready to store, or the outcome that says why it has none."""
    today = today or site_today(tz)
    try:
        parsed = ticker.parse(page.body, today=today, content_type=page.content_type, max_bytes=max_bytes)
        rate_date = page_date(parsed, page, fallback_date, tz)
        if rate_date > today:
            raise ticker.TickerError(f"the date {rate_date} is in the future (today is {today})")
    except ticker.TickerError as exc:
        return PageOutcome(page.source, error=str(exc))
    return store.PageQuotes(parsed.quotes, rate_date, page.source, page.content_hash, page.seen_at)


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


def load(source: str, max_bytes: int) -> Page:
    if is_url(source):
        return fetch_url(source, max_bytes)
    return read_file(Path(source), max_bytes)


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


def parsed_batches(
    items: Sequence[str], read: Callable[[str, dt.date], T], tz: zoneinfo.ZoneInfo,
    batch_pages: int = BATCH_PAGES,
) -> Iterator[list[T]]:
    """Each batch of items read and parsed, in order: on every core when there are enough of them.

    At most one batch per worker is parsed ahead of the one being stored, so memory stays flat however
    many pages there are.
    """
    batches = (items[start:start + batch_pages] for start in range(0, len(items), batch_pages))
    workers = min(os.cpu_count() or 1, len(os.sched_getaffinity(0)))
    if workers < 2 or len(items) < POOL_MIN_PAGES:
        for chunk in batches:
            today = site_today(tz)
            yield [read(source, today) for source in chunk]
        return
    # fork starts a worker in milliseconds, with the parser already imported; a process that runs other
    # threads (a test server, a progress bar's monitor) must not fork: a lock held there would stay held.
    method = "fork" if threading.active_count() == 1 and sys.platform == "linux" else "forkserver"
    with multiprocessing.get_context(method).Pool(workers) as pool:
        pending: deque[AsyncResult[list[T]]] = deque()
        for chunk in batches:
            today = site_today(tz)
            pending.append(pool.starmap_async(read, [(source, today) for source in chunk],
                                              chunksize=max(1, len(chunk) // (4 * workers))))
            if len(pending) > workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def quote_lines(
    source: str, today: dt.date, *, fallback_date: dt.date | None, tz: zoneinfo.ZoneInfo, max_bytes: int,
) -> tuple[str, str | None]:
    """`fxticker parse` of one file or URL: its quotes as JSON lines, or a line saying why there are none.

    Nothing is stored, and a page without a date shows a null date rather than being refused.
    """
    try:
        page = load(source, max_bytes)
        parsed = ticker.parse(page.body, today=today, content_type=page.content_type, max_bytes=max_bytes)
    except (FetchError, ticker.TickerError) as exc:
        name = display(source)
        return "", f"{name}: {str(exc).removeprefix(name + ': ')}"
    try:
        date: str | None = page_date(parsed, page, fallback_date, tz).isoformat()
    except ticker.TickerError:
        date = None
    lines = []
    for quote in parsed.quotes:
        bounds = quote.bounds
        lines.append(json.dumps({
            "source": page.source, "date": date, "currency": quote.currency, "rate": quote.rate_text,
            "change_pct": quote.change_text, "direction": quote.direction,
            "rate_low": vocab.decimal_text(bounds.usd_per_unit_low),
            "rate_high": vocab.decimal_text(bounds.usd_per_unit_high),
        }) + "\n")
    return "".join(lines), None


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
    with psycopg.connect(db.database_url(conf), connect_timeout=10) as conn:
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
