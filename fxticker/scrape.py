"""Scrape: one run over the configured sources, each page stored and accounted in one transaction.

Every run lands in `scrape_run`, every source within it in `scrape_source_run`. A page's observations, its
accounting row and its conditional-GET validators commit together, so a page is either wholly recorded or
not at all. When the database is down at the start of a run, or drops in the middle, the run is kept in
memory and written when a later run reaches the database again; the caller logs what was never written.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx
import psycopg

from fxticker.fetch import (
    FetchError,
    FetchPolicy,
    Page,
    RobotsCache,
    Validators,
    fetch_url,
    is_url,
    make_client,
    read_file,
)
from fxticker.ingest import store_page
from fxticker.settings import Settings

log = logging.getLogger(__name__)

Trigger = Literal["manual", "schedule"]
SourceStatus = Literal["ok", "not_modified", "failed"]
# A long outage must not grow memory without bound: beyond this many unrecorded runs the oldest are logged
# and dropped.
MAX_PENDING = 100
CONNECT_TIMEOUT = 5


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@dataclass(frozen=True)
class ScrapeConfig:
    sources: tuple[str, ...]
    tz: zoneinfo.ZoneInfo
    max_bytes: int
    policy: FetchPolicy = field(default_factory=FetchPolicy)

    @classmethod
    def from_settings(cls, conf: Settings) -> ScrapeConfig:
        timeout = float(conf.fetch_timeout)
        policy = FetchPolicy(
            timeout=timeout,
            connect_timeout=min(10.0, timeout),
            attempts=conf.fetch_attempts,
            backoff=conf.retry_backoff,
        )
        return cls(sources=conf.sources, tz=conf.timezone, max_bytes=conf.max_page_bytes, policy=policy)


@dataclass(frozen=True)
class SourceResult:
    source: str
    started_at: dt.datetime
    finished_at: dt.datetime
    status: SourceStatus
    http_status: int | None = None
    new: int = 0
    duplicate: int = 0
    rate_date: dt.date | None = None
    error: str | None = None

    def line(self) -> str:
        http = f" HTTP {self.http_status}" if self.http_status is not None else ""
        if self.status == "failed":
            return f"failed        {self.source}{http}: {self.error}"
        if self.status == "not_modified":
            return f"not modified  {self.source}{http}: unchanged since the last scrape, nothing stored"
        counts = f"{self.new} new, {self.duplicate} duplicate"
        return f"ok            {self.source}{http}: {self.rate_date}, {counts}"


@dataclass
class RunRecord:
    """One run as it happened; `recorded` tells which parts the database already holds."""

    started_at: dt.datetime
    trigger: Trigger
    host: str
    sources_total: int
    run_id: int | None = None
    finished_at: dt.datetime | None = None
    results: list[SourceResult] = field(default_factory=list)
    error: str | None = None
    database_error: bool = False
    recorded_sources: set[str] = field(default_factory=set)
    recorded: bool = False

    @property
    def sources_failed(self) -> int:
        return sum(1 for r in self.results if r.status == "failed")

    @property
    def status(self) -> Literal["running", "ok", "failed"]:
        if self.finished_at is None:
            return "running"
        ok = self.error is None and self.sources_failed == 0 and len(self.results) == self.sources_total
        return "ok" if ok else "failed"

    def line(self) -> str:
        done = len(self.results) - self.sources_failed
        text = (f"started {self.started_at:%Y-%m-%d %H:%M:%S} UTC, {self.status}: "
                f"{done} of {self.sources_total} source(s) succeeded")
        return f"{text}; {self.error}" if self.error else text


def host_id() -> str:
    """Which process ran a run: host name and process id (replicas may share a host)."""
    return f"{socket.gethostname()}/{os.getpid()}"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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
            record.run_id = _insert_run(conn, record)
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
            _finish_run(conn, record)
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
        try:
            validators = _validators(conn, source) if is_url(source) else None
            page: Page | None = None
            try:
                page = self._load(source, validators)
            except FetchError as exc:
                result = SourceResult(source, started, now(), "failed", exc.status,
                                      error=str(exc).removeprefix(f"{source}: "))
            with conn.transaction():
                if page is not None:
                    result = self._store(conn, page, started)
                assert record.run_id is not None
                _insert_source_run(conn, record.run_id, result)
            record.recorded_sources.add(source)
        except _DB_GONE as exc:
            error = f"database unreachable mid-run: {first_line(exc)}"
            record.results.append(SourceResult(source, started, now(), "failed", error=error))
            raise DatabaseDown(error) from None
        except psycopg.Error as exc:
            # Not an outage (a constraint, a bad value): this page stores nothing, the run goes on.
            result = SourceResult(source, started, now(), "failed",
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
            _save_validators(conn, page.source, page.validators)
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
                    _finish_run(conn, record)
                except _DB_GONE as exc:
                    raise DatabaseDown(f"database unreachable: {first_line(exc)}") from None
                self.pending.pop(0)
                written += 1
                log.info("recorded scrape run %d from earlier: %s", record.run_id, record.line())
        return written


def _log_source(result: SourceResult) -> None:
    log.log(logging.WARNING if result.status == "failed" else logging.INFO, "%s", result.line())


_INSERT_RUN = """
INSERT INTO scrape_run (started_at, finished_at, status, trigger, host, sources_total, sources_failed, error)
VALUES (%(started_at)s, %(finished_at)s, %(status)s, %(trigger)s, %(host)s, %(sources_total)s,
        %(sources_failed)s, %(error)s)
RETURNING id
"""

_UPDATE_RUN = """
UPDATE scrape_run SET finished_at = %(finished_at)s, status = %(status)s, sources_total = %(sources_total)s,
    sources_failed = %(sources_failed)s, error = %(error)s
WHERE id = %(run_id)s
RETURNING id
"""

_INSERT_SOURCE_RUN = """
INSERT INTO scrape_source_run (run_id, source, started_at, finished_at, http_status, status,
    observations_new, observations_duplicate, error)
VALUES (%(run_id)s, %(source)s, %(started_at)s, %(finished_at)s, %(http_status)s, %(status)s,
    %(new)s, %(duplicate)s, %(error)s)
ON CONFLICT (run_id, source) DO NOTHING
"""


def _run_params(record: RunRecord) -> dict[str, object]:
    return {
        "run_id": record.run_id, "started_at": record.started_at, "finished_at": record.finished_at,
        "status": record.status, "trigger": record.trigger, "host": record.host,
        "sources_total": record.sources_total, "sources_failed": record.sources_failed,
        "error": record.error,
    }


def _insert_run(conn: psycopg.Connection, record: RunRecord) -> int:
    row = conn.execute(_INSERT_RUN, _run_params(record)).fetchone()
    assert row is not None
    return int(row[0])


def _finish_run(conn: psycopg.Connection, record: RunRecord) -> None:
    """The run's final state and the source rows not written yet, together."""
    with conn.transaction():
        updated = conn.execute(_UPDATE_RUN, _run_params(record)).fetchone() if record.run_id else None
        if updated is None:
            # Never written (the database was down at the start) or lost with the database: write it whole.
            run_id, written = _insert_run(conn, record), set()
        else:
            run_id, written = int(updated[0]), record.recorded_sources
        for result in record.results:
            if result.source not in written:
                _insert_source_run(conn, run_id, result)
    record.run_id = run_id
    record.recorded_sources = {r.source for r in record.results}
    record.recorded = True


def _insert_source_run(conn: psycopg.Connection, run_id: int, result: SourceResult) -> None:
    conn.execute(_INSERT_SOURCE_RUN, {
        "run_id": run_id, "source": result.source, "started_at": result.started_at,
        "finished_at": result.finished_at, "http_status": result.http_status, "status": result.status,
        "new": result.new, "duplicate": result.duplicate, "error": result.error,
    })


def _validators(conn: psycopg.Connection, source: str) -> Validators | None:
    row = conn.execute("SELECT etag, last_modified FROM source_state WHERE source = %s", (source,)).fetchone()
    return Validators(row[0], row[1]) if row else None


def _save_validators(conn: psycopg.Connection, source: str, validators: Validators) -> None:
    conn.execute(
        "INSERT INTO source_state (source, etag, last_modified, updated_at) VALUES (%s, %s, %s, now())"
        " ON CONFLICT (source) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified,"
        " updated_at = excluded.updated_at",
        (source, validators.etag, validators.last_modified),
    )


def close_abandoned(conn: psycopg.Connection) -> int:
    """Scheduled runs left 'running' by a scheduler that died; only the new leader may call this."""
    cur = conn.execute(
        "UPDATE scrape_run SET status = 'failed', finished_at = now(),"
        " error = 'abandoned: its scheduler stopped during the run'"
        " WHERE status = 'running' AND trigger = 'schedule'"
    )
    return cur.rowcount


def last_scheduled_start(conn: psycopg.Connection) -> dt.datetime | None:
    row = conn.execute("SELECT max(started_at) FROM scrape_run WHERE trigger = 'schedule'").fetchone()
    return row[0] if row else None
