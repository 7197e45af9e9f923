"""Scrape accounting: the SQL of scrape_run, scrape_source_run and source_state, and the records they hold.

A run is a row of scrape_run, each source in it a row of scrape_source_run; source_state keeps a page's
conditional-GET validators. fxticker.collect.scrape decides what to record and when; this module writes and
reads the rows, for the scraper, the scheduler (abandoned runs, the last scheduled start), /healthz and
/metrics.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass, field
from typing import Literal

import psycopg

Trigger = Literal["manual", "schedule"]
SourceStatus = Literal["ok", "not_modified", "failed"]


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


def process_gone(host: str | None) -> bool:
    """Whether the process a host_id names has surely ended: it ran on this machine and no process has
    its id now. A process on another machine cannot be asked, so it is never said to be gone."""
    name, _, pid = (host or "").rpartition("/")
    if name != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (OSError, OverflowError):  # alive but another user's (EPERM), or not a pid at all
        return False
    return False


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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


def insert_run(conn: psycopg.Connection, record: RunRecord) -> int:
    row = conn.execute(_INSERT_RUN, _run_params(record)).fetchone()
    assert row is not None
    return int(row[0])


def finish_run(conn: psycopg.Connection, record: RunRecord) -> None:
    """The run's final state and the source rows not written yet, together."""
    with conn.transaction():
        updated = conn.execute(_UPDATE_RUN, _run_params(record)).fetchone() if record.run_id else None
        if updated is None:
            # Never written (the database was down at the start) or lost with the database: write it whole.
            run_id, written = insert_run(conn, record), set()
        else:
            run_id, written = int(updated[0]), record.recorded_sources
        for result in record.results:
            if result.source not in written:
                insert_source_run(conn, run_id, result)
    record.run_id = run_id
    record.recorded_sources = {r.source for r in record.results}
    record.recorded = True


def insert_source_run(conn: psycopg.Connection, run_id: int, result: SourceResult) -> None:
    conn.execute(_INSERT_SOURCE_RUN, {
        "run_id": run_id, "source": result.source, "started_at": result.started_at,
        "finished_at": result.finished_at, "http_status": result.http_status, "status": result.status,
        "new": result.new, "duplicate": result.duplicate, "error": result.error,
    })


def validators(conn: psycopg.Connection, source: str) -> tuple[str | None, str | None] | None:
    """The page's conditional-GET validators (ETag, Last-Modified) as last saved, if any."""
    row = conn.execute("SELECT etag, last_modified FROM source_state WHERE source = %s", (source,)).fetchone()
    return (row[0], row[1]) if row else None


def save_validators(conn: psycopg.Connection, source: str, etag: str | None,
                    last_modified: str | None) -> None:
    conn.execute(
        "INSERT INTO source_state (source, etag, last_modified, updated_at) VALUES (%s, %s, %s, now())"
        " ON CONFLICT (source) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified,"
        " updated_at = excluded.updated_at",
        (source, etag, last_modified),
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
    started: dt.datetime | None = row[0] if row else None
    return started


def runs_by_status(conn: psycopg.Connection) -> dict[str, int]:
    """How many runs are running, ok and failed (each status present, 0 when none)."""
    rows = conn.execute("SELECT status, count(*) FROM scrape_run GROUP BY status").fetchall()
    return dict.fromkeys(("running", "ok", "failed"), 0) | {str(status): int(n) for status, n in rows}


def sources_by_status(conn: psycopg.Connection) -> dict[str, int]:
    """How many sources within runs were ok, not_modified and failed (each present, 0 when none)."""
    rows = conn.execute("SELECT status, count(*) FROM scrape_source_run GROUP BY status").fetchall()
    return dict.fromkeys(("ok", "not_modified", "failed"), 0) | {str(status): int(n) for status, n in rows}


def last_success(conn: psycopg.Connection) -> dt.datetime | None:
    """When the last successful run finished (None: no run succeeded yet)."""
    row = conn.execute("SELECT max(finished_at) FROM scrape_run WHERE status = 'ok'").fetchone()
    finished: dt.datetime | None = row[0] if row else None
    return finished
