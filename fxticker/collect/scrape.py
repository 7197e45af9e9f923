"""Scrape: one run over the configured sources, each page stored and accounted in one transaction.

Every run lands in `scrape_run`, every source within it in `scrape_source_run`. A page's observations, its
accounting row and its conditional-GET validators commit together, so a page is either wholly recorded or
not at all. When the database is down at the start of a run, or drops in the middle, the run is kept in
memory and written when a later run reaches the database again; the caller logs what was never written.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

from fxticker.collect.fetcher import FetchPolicy, RobotsCache, fetch_url, make_client
from fxticker.collect.ingest import store_page
from fxticker.collect.sources import FetchError, Page, Validators, read_file
from fxticker.inputs import first_line, is_url, without_credentials
from fxticker.settings import Settings
from fxticker.storage import scrape_runs
from fxticker.storage.scrape_runs import RunRecord, SourceResult, Trigger, host_id, now

log = logging.getLogger(__name__)

# A long outage must not grow memory without bound: beyond this many unrecorded runs the oldest are logged
# and dropped.
MAX_PENDING = 100
CONNECT_TIMEOUT = 5


@dataclass(frozen=True)
class ScrapeConfig:
    sources: tuple[str, ...]
    tz: zoneinfo.ZoneInfo
    max_bytes: int
    policy: FetchPolicy = field(default_factory=FetchPolicy)

    @classmethod
    def from_settings(cls, conf: Settings) -> ScrapeConfig:
        return cls(sources=conf.sources, tz=conf.timezone, max_bytes=conf.max_page_bytes,
                   policy=FetchPolicy.from_settings(conf))


class DatabaseDown(RuntimeError):
    """The database went away; the run stops and is recorded later."""


_DB_GONE = (psycopg.OperationalError, psycopg.InterfaceError)


class Scraper:
    """Runs scrapes; keeps one HTTP client, one robots.txt cache and the runs not yet recorded."""

    def __init__(self, database_url: str, config: ScrapeConfig, *, trigger: Trigger = "manual",
                 client: httpx.Client | None = None) -> None:
        self.database_url = database_url
        self.config = config
        self.trigger: Trigger = trigger
        self.client = client or make_client(config.policy)
        self.robots = RobotsCache()
        self.pending: list[RunRecord] = []
        self._pending_lock = threading.RLock()  # a standby's flush and a finishing run may overlap
        # Set to cut short the waits between retries (a stop request should not sit out a backoff).
        self.interrupt = threading.Event()

    def close(self) -> None:
        self.client.close()

    def run(self, should_stop: Callable[[], bool] = lambda: False) -> RunRecord:
        """Scrape every source once; `should_stop` is asked between pages."""
        record = RunRecord(now(), self.trigger, host_id(), len(self.config.sources))
        try:
            conn = psycopg.connect(self.database_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
        except _DB_GONE as exc:
            record.error = f"database unreachable: {first_line(exc)}"
            record.database_error = True
            record.finished_at = now()
            self._keep(record)
            return record
        try:
            self._run(conn, record, should_stop)
        finally:
            conn.close()
        return record

    def _run(self, conn: psycopg.Connection, record: RunRecord, should_stop: Callable[[], bool]) -> None:
        try:
            self.flush(conn)
            record.run_id = scrape_runs.insert_run(conn, record)
            log.info("scrape run %d started: %d source(s)", record.run_id, record.sources_total)
            for index, source in enumerate(self.config.sources):
                if should_stop():
                    record.error = f"stopped after {index} of {record.sources_total} source(s)"
                    break
                record.results.append(self._source(conn, record, source))
        except DatabaseDown as exc:
            record.error = str(exc)
            record.database_error = True
        except Exception as exc:
            # A defect must not leave the run 'running' for ever: close it as failed, with the reason.
            log.exception("scrape run %s stopped by an unexpected error", record.run_id)
            record.error = f"unexpected error: {first_line(exc)}"
        record.finished_at = now()
        try:
            scrape_runs.finish_run(conn, record)
        except _DB_GONE as exc:
            log.warning("scrape run %s could not be recorded (%s); kept to record later",
                        record.run_id, first_line(exc))
            self._keep(record)
            return
        log.log(logging.INFO if record.status == "ok" else logging.WARNING,
                "scrape run %d %s", record.run_id, record.line())

    def _source(self, conn: psycopg.Connection, record: RunRecord, source: str) -> SourceResult:
        """Fetch one source and store it with its accounting row in one transaction."""
        started = now()
        # What is stored and printed: the URL without its credentials (the fetch still uses them).
        name = without_credentials(source)
        try:
            saved = scrape_runs.validators(conn, name) if is_url(source) else None
            validators = Validators(*saved) if saved else None
            page: Page | None = None
            try:
                page = self._load(source, validators)
            except FetchError as exc:
                result = SourceResult(name, started, now(), "failed", exc.status,
                                      error=str(exc).removeprefix(f"{name}: "))
            with conn.transaction():
                if page is not None:
                    result = self._store(conn, page, started)
                assert record.run_id is not None
                scrape_runs.insert_source_run(conn, record.run_id, result)
            record.recorded_sources.add(name)
        except _DB_GONE as exc:
            error = f"database unreachable mid-run: {first_line(exc)}"
            record.results.append(SourceResult(name, started, now(), "failed", error=error))
            raise DatabaseDown(error) from None
        except psycopg.Error as exc:
            # Not an outage (a constraint, a bad value): this page stores nothing, the run goes on.
            result = SourceResult(name, started, now(), "failed",
                                  error=f"database error: {exc.diag.message_primary or first_line(exc)}")
        _log_source(result)
        return result

    def _load(self, source: str, validators: Validators | None) -> Page:
        if is_url(source):
            return fetch_url(source, self.config.max_bytes, self.client, validators=validators,
                             policy=self.config.policy, robots=self.robots, sleep=self._sleep)
        return read_file(Path(source), self.config.max_bytes)

    def _sleep(self, seconds: float) -> None:
        if self.interrupt.wait(seconds):
            raise FetchError("stopped while waiting to retry")

    def _store(self, conn: psycopg.Connection, page: Page, started: dt.datetime) -> SourceResult:
        if page.not_modified:
            return SourceResult(page.source, started, now(), "not_modified", page.status)
        outcome = store_page(conn, page, fallback_date=None, tz=self.config.tz,
                             max_bytes=self.config.max_bytes)
        if not outcome.ok:
            return SourceResult(page.source, started, now(), "failed", page.status, error=outcome.error)
        # Validators only of a page that stored well: a bad page must be fetched whole again next time,
        # not answered with a 304 that would count as success.
        if page.validators is not None:
            scrape_runs.save_validators(conn, page.source, page.validators.etag,
                                        page.validators.last_modified)
        return SourceResult(page.source, started, now(), "ok", page.status, outcome.new, outcome.duplicate,
                            outcome.rate_date)

    def _keep(self, record: RunRecord) -> None:
        with self._pending_lock:
            self.pending.append(record)
            while len(self.pending) > MAX_PENDING:
                dropped = self.pending.pop(0)
                log.error("scrape run never recorded (too many waiting): %s", dropped.line())

    def flush_pending(self) -> int:
        """Try to write the kept runs now (a standby does, since it may never run a scrape itself)."""
        if not self.pending:
            return 0
        try:
            with psycopg.connect(self.database_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT) as conn:
                return self.flush(conn)
        except (DatabaseDown, *_DB_GONE):
            return 0

    def flush(self, conn: psycopg.Connection) -> int:
        """Write the runs kept while the database was away; return how many were written."""
        written = 0
        with self._pending_lock:
            while self.pending:
                record = self.pending[0]
                try:
                    scrape_runs.finish_run(conn, record)
                except _DB_GONE as exc:
                    raise DatabaseDown(f"database unreachable: {first_line(exc)}") from None
                self.pending.pop(0)
                written += 1
                log.info("recorded scrape run %d from earlier: %s", record.run_id, record.line())
        return written


def _log_source(result: SourceResult) -> None:
    log.log(logging.WARNING if result.status == "failed" else logging.INFO, "%s", result.line())
