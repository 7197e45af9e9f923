"""Pages read and parsed in bulk, nothing stored: sources checked and expanded (a directory to its
files), then read and parsed in batches, on every core when there are enough; and a page's quotes as the
JSON lines `fxticker parse` prints.

fxticker.collect.ingest stores what this reads. Neither the database driver nor the HTTP client is imported
here: `fxticker parse` of files needs neither, and a URL's loader comes in from the caller (fetch.load).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import sys
import threading
import zoneinfo
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, TypeVar

from fxticker import ticker, vocab
from fxticker.collect.sources import FetchError, Page, check_source
from fxticker.inputs import display, is_url

if TYPE_CHECKING:
    from multiprocessing.pool import AsyncResult

# Pages per batch, which a bulk ingest stores in one transaction: large enough that the round trips and
# the statement's fixed costs vanish per page, small enough that a crash costs little to redo and memory
# stays flat.
BATCH_PAGES = 250
# Fewer pages than this are parsed in this process: starting workers would cost more than it saves.
POOL_MIN_PAGES = 2 * BATCH_PAGES

T = TypeVar("T")


def expand(sources: list[str]) -> Iterator[str]:
    """Paths and URLs as given, directories replaced by their files (recursively, sorted).

    Every source is checked (sources.check_source) before any is yielded, so one bad argument refuses the
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
            today = vocab.site_today(tz)
            yield [read(source, today) for source in chunk]
        return
    # Imported only here, where workers start: multiprocessing takes longer to import than a run of a
    # hundred small pages takes to parse in this process.
    import multiprocessing

    # fork starts a worker in milliseconds, with the parser already imported; a process that runs other
    # threads (a test server, a progress bar's monitor) must not fork: a lock held there would stay held.
    method = "fork" if threading.active_count() == 1 and sys.platform == "linux" else "forkserver"
    with multiprocessing.get_context(method).Pool(workers) as pool:
        pending: deque[AsyncResult[list[T]]] = deque()
        for chunk in batches:
            today = vocab.site_today(tz)
            pending.append(pool.starmap_async(read, [(source, today) for source in chunk],
                                              chunksize=max(1, len(chunk) // (4 * workers))))
            if len(pending) > workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def quote_lines(
    source: str, today: dt.date, *, load: Callable[[str, int], Page], fallback_date: dt.date | None,
    tz: zoneinfo.ZoneInfo, max_bytes: int,
) -> tuple[str, str | None]:
    """`fxticker parse` of one file or URL, loaded by `load` (sources.read_file for files, fetch.load
    for URLs too): its quotes as JSON lines, or a line saying why there are none.

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


