"""Backfill: the ticker's history from a web archive's captures, each capture's outcome recorded to resume.

A run lists the captures of each page (fxticker.collect.archive), leaves out those with an outcome already
(stored or rejected) and those whose bytes (digest) were read before, then fetches the rest one by one. A
capture's quotes are stored as `ingest` stores a page (fxticker.collect.ingest.store_page), dated by the
page's date line or else the capture time, sourced by the capture's `id_` URL; they commit together with the
capture's outcome, so a run killed at any point loses nothing stored and a re-run fetches nothing stored.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import threading
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import psycopg

from fxticker.collect import archive
from fxticker.collect.archive import Archive, ArchivePolicy, Capture
from fxticker.collect.fetcher import FetchPolicy
from fxticker.collect.ingest import PageOutcome, store_page
from fxticker.collect.sources import Page
from fxticker.inputs import first_line, is_url
from fxticker.settings import Settings
from fxticker.storage import captures

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackfillConfig:
    sources: tuple[str, ...]
    tz: zoneinfo.ZoneInfo
    max_bytes: int
    policy: ArchivePolicy

    @classmethod
    def from_settings(cls, conf: Settings) -> BackfillConfig:
        # The archive is fetched with the scraper's patience and User-Agent.
        policy = ArchivePolicy(base_url=conf.archive_url, delay=conf.archive_delay,
                               fetch=FetchPolicy.from_settings(conf))
        return cls(conf.sources, conf.timezone, conf.max_page_bytes, policy)

    def urls(self) -> tuple[str, ...]:
        """The sources an archive can hold: the URLs among FXTICKER_SOURCES."""
        urls = tuple(s for s in self.sources if is_url(s))
        if not urls:
            raise ValueError("FXTICKER_SOURCES holds no http(s) URL to look up in the archive")
        return urls


@dataclass(frozen=True)
class Plan:
    """What a run would fetch: the captures listed, and those of them with no outcome and unseen bytes."""

    listed: int
    todo: tuple[Capture, ...]
    refused: tuple[str, ...] = ()  # listed rows that cannot be captures fxticker records, one line each

    @property
    def known(self) -> int:
        return self.listed - len(self.todo)

    def months(self) -> dict[str, int]:
        """Captures to fetch per month of capture (UTC), oldest first."""
        counts = collections.Counter(c.timestamp[:4] + "-" + c.timestamp[4:6] for c in self.todo)
        return dict(sorted(counts.items()))


@dataclass
class BackfillSummary:
    listed: int = 0
    known: int = 0
    fetched: int = 0
    stored: int = 0
    new: int = 0
    duplicate: int = 0
    rejected: list[str] = field(default_factory=list)  # one line per capture: its URL and why
    failed: list[str] = field(default_factory=list)  # the same
    stopped: str | None = None  # why the run stopped before the end, if it did

    def line(self) -> str:
        return (f"{self.listed} capture(s) listed, {self.known} already known, {self.fetched} fetched: "
                f"{self.stored} stored ({self.new} new, {self.duplicate} duplicate quote(s)), "
                f"{len(self.rejected)} rejected, {len(self.failed)} failed")

    @property
    def ok(self) -> bool:
        return not self.failed and self.stopped is None


def _record(conn: psycopg.Connection, base: str, capture: Capture, status: str, *,
            reason: str | None = None, page: Page | None = None, outcome: PageOutcome | None = None) -> None:
    captures.record(conn, archive=base, original=capture.original, captured_at=capture.captured_at,
                    digest=capture.digest, status=status, reason=reason,
                    served_at=page.seen_at if page else None, source=page.source if page else None,
                    rate_date=outcome.rate_date if outcome else None, new=outcome.new if outcome else 0,
                    duplicate=outcome.duplicate if outcome else 0)


# ---- the run --------------------------------------------------------------------------------------------

def plan(conn: psycopg.Connection, source: Archive, urls: Iterable[str], since: dt.date | None,
         until: dt.date | None) -> Plan:
    """List every URL's captures in the range; keep those not yet done, one per digest."""
    listed: list[Capture] = []
    for url in urls:
        listed.extend(source.captures(url, since, until))
    base = source.policy.base_url
    originals = list({c.original for c in listed})
    done = captures.done(conn, base, originals)
    seen = captures.seen_digests(conn, list({c.digest for c in listed}))
    todo = []
    for capture in listed:
        if (capture.original, capture.captured_at) in done or capture.digest in seen:
            continue
        seen.add(capture.digest)  # the same bytes again, in this listing: read once
        todo.append(capture)
    return Plan(len(listed), tuple(todo), tuple(source.refused))


def store_capture(conn: psycopg.Connection, base: str, capture: Capture, page: Page, *,
                  tz: zoneinfo.ZoneInfo, max_bytes: int) -> PageOutcome:
    """A fetched capture's quotes and its outcome, in one transaction: both or neither."""
    with conn.transaction():
        outcome = store_page(conn, page, fallback_date=None, tz=tz, max_bytes=max_bytes)
        if outcome.ok:
            _record(conn, base, capture, "stored", page=page, outcome=outcome)
        else:
            _record(conn, base, capture, "rejected", reason=outcome.error, page=page)
    return outcome


def run(conn: psycopg.Connection, source: Archive, work: Plan, *, tz: zoneinfo.ZoneInfo, max_bytes: int,
        should_stop: Callable[[], bool] | None = None, progress: bool = False) -> BackfillSummary:
    """Fetch and store every capture of the plan; `conn` must be in autocommit mode."""
    from tqdm import tqdm

    summary = BackfillSummary(listed=work.listed, known=work.known, rejected=list(work.refused))
    base = source.policy.base_url
    bar = tqdm(work.todo, unit="capture", disable=None if progress else True, dynamic_ncols=True)
    try:
        for capture in bar:
            if should_stop is not None and should_stop():
                summary.stopped = "asked to stop"
                break
            _one(conn, source, base, capture, summary, tz=tz, max_bytes=max_bytes)
    except archive.ArchiveUnavailable as exc:
        summary.stopped = str(exc)
    except KeyboardInterrupt:
        # Every capture so far committed whole; the summary says how far the run got.
        summary.stopped = "interrupted; run again to resume"
    finally:
        bar.close()
    return summary


def _one(conn: psycopg.Connection, source: Archive, base: str, capture: Capture, summary: BackfillSummary, *,
         tz: zoneinfo.ZoneInfo, max_bytes: int) -> None:
    try:
        page = source.fetch(capture)
    except archive.CaptureRejected as exc:
        # The archive's messages name the URL they concern (a redirect's target, say).
        summary.rejected.append(str(exc))
        with conn.transaction():
            _record(conn, base, capture, "rejected", reason=str(exc))
        return
    except archive.CaptureFailed as exc:
        summary.failed.append(str(exc))
        with conn.transaction():
            _record(conn, base, capture, "failed", reason=str(exc))
        return
    summary.fetched += 1
    outcome = store_capture(conn, base, capture, page, tz=tz, max_bytes=max_bytes)
    if outcome.ok:
        summary.stored += 1
        summary.new += outcome.new
        summary.duplicate += outcome.duplicate
    else:
        summary.rejected.append(f"{page.source}: {outcome.error}")


def backfill(conn: psycopg.Connection, config: BackfillConfig, urls: Iterable[str], since: dt.date | None,
             until: dt.date | None, *, dry_run: bool = False, progress: bool = False,
             should_stop: Callable[[], bool] | None = None,
             archive_factory: Callable[[ArchivePolicy, int], Archive] | None = None,
             ) -> tuple[Plan, BackfillSummary]:
    """List, then (unless a dry run) fetch and store; the plan and what the run did."""
    factory = archive_factory or (lambda policy, max_bytes: Archive(policy, max_bytes))
    with factory(config.policy, config.max_bytes) as source:
        work = plan(conn, source, urls, since, until)
        if dry_run:
            return work, BackfillSummary(listed=work.listed, known=work.known, rejected=list(work.refused))
        return work, run(conn, source, work, tz=config.tz, max_bytes=config.max_bytes,
                         should_stop=should_stop, progress=progress)


# ---- in the scheduler -----------------------------------------------------------------------------------

class BackfillStopped(Exception):
    """The scheduler is stopping: raised from a wait, so that no request goes out after it."""


def wanted_on_start(conn: psycopg.Connection) -> bool:
    """A new leader backfills when nothing is stored yet, or resumes a backfill begun before."""
    return captures.backfill_wanted(conn)


def run_scheduled(database_url: str, config: BackfillConfig, *, should_stop: Callable[[], bool],
                  stopping: threading.Event, connect_timeout: int = 5) -> BackfillSummary | None:
    """The scheduler's backfill: FXTICKER_SOURCES over all time, logged; None when it did not finish."""

    def sleep(seconds: float) -> None:
        # A 429 pause can last minutes: stopping must not wait for it, nor send a request after it.
        if stopping.wait(seconds):
            raise BackfillStopped

    def factory(policy: ArchivePolicy, max_bytes: int) -> Archive:
        return Archive(policy, max_bytes, sleep=sleep)

    log.info("backfill from %s: starting", config.policy.base_url)
    try:
        with psycopg.connect(database_url, autocommit=True, connect_timeout=connect_timeout) as conn:
            _, summary = backfill(conn, config, config.urls(), None, None, should_stop=should_stop,
                                  archive_factory=factory)
    except BackfillStopped:
        log.info("backfill stopped with the scheduler; the next leader resumes it")
        return None
    except (archive.ArchiveError, psycopg.Error, ValueError) as exc:
        log.error("backfill failed: %s", first_line(exc))
        return None
    for line in summary.failed:
        log.warning("backfill: failed %s", line)
    if summary.stopped:
        log.warning("backfill stopped: %s", summary.stopped)
    log.info("backfill: %s", summary.line())
    return summary
