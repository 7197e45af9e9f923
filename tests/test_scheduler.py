"""`fxticker schedule` as real processes: a leader, a standby taking over after kill -9, outages, SIGTERM."""

from __future__ import annotations

import itertools
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import psycopg
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from fxticker.collect.fetcher import FetchPolicy
from fxticker.collect.scrape import ScrapeConfig
from fxticker.scheduler import LEADER_LOCK, ScheduleConfig, ScheduledScraper
from fxticker.storage import cluster
from tests.fix_scrape import allow_all, fresh, own_cluster, source_runs
from tests.fix_wait import wait_for
from tests.pages import html_page

pytestmark = pytest.mark.timing

INTERVAL = 1  # seconds between scheduled runs in these tests


class Scheduler:
    """A real `fxticker schedule` process, its stderr in a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out: IO[bytes] = log.open("wb")
        self.process = subprocess.Popen([sys.executable, "-m", "fxticker", "schedule"], env=env,
                                        stdout=subprocess.DEVNULL, stderr=self._out)

    @property
    def host_suffix(self) -> str:
        return f"/{self.process.pid}"

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=20)
        finally:
            self._out.close()

    def kill(self) -> None:
        self.process.kill()  # SIGKILL: no chance to clean up
        self.process.wait(timeout=10)
        self._out.close()


def scheduled_runs(url: str) -> list[tuple[str, str, float, float | None, str | None]]:
    """(host, status, started, finished, error) of scheduled runs; times as epoch seconds."""
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            rows = conn.execute(
                "SELECT host, status, extract(epoch FROM started_at)::float8,"
                " extract(epoch FROM finished_at)::float8, error"
                " FROM scrape_run WHERE trigger = 'schedule' ORDER BY started_at"
            ).fetchall()
    except psycopg.OperationalError:
        return []
    return [(str(r[0]), str(r[1]), float(r[2]), r[3], r[4]) for r in rows]


def schedule_env(url: str, sources: list[str], tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_READ_URL"}
    env.update(DATABASE_URL=url, FXTICKER_SOURCES=",".join(sources), FXTICKER_DATA_DIR=str(tmp_path / "x"),
               FXTICKER_INTERVAL=str(INTERVAL), FXTICKER_JITTER="0", FXTICKER_FETCH_ATTEMPTS="1",
               FXTICKER_FETCH_TIMEOUT="2", FXTICKER_RETRY_BACKOFF="0")
    return env


@pytest.fixture
def site(httpserver: HTTPServer) -> str:
    allow_all(httpserver)
    httpserver.expect_request("/").respond_with_data(html_page(), content_type="text/html")
    return httpserver.url_for("/")


@pytest.fixture(scope="module")
def outage_cluster() -> Iterator[cluster.EmbeddedCluster]:
    yield from own_cluster()


@pytest.mark.slow
def test_one_leader_acts_and_a_standby_takes_over_after_kill_9(site: str, db_url: str,
                                                                 tmp_path: Path) -> None:
    env = schedule_env(db_url, [site], tmp_path)
    first = Scheduler(env, tmp_path / "first.log")
    second: Scheduler | None = None
    try:
        wait_for("the first scheduler to scrape", lambda: scheduled_runs(db_url))
        second = Scheduler(env, tmp_path / "second.log")
        wait_for("the standby to start", lambda: "waiting to lead" in second.stderr())
        before = len(scheduled_runs(db_url))

        def three_more() -> list[tuple[str, str, float, float | None, str | None]] | None:
            runs = scheduled_runs(db_url)
            return runs if len(runs) >= before + 3 else None

        while_both = wait_for("three more runs with both running", three_more)
        assert all(host.endswith(first.host_suffix) for host, *_ in while_both), while_both
        assert second.process.poll() is None, second.stderr()

        first.kill()
        leader_started = max(r[2] for r in scheduled_runs(db_url) if r[0].endswith(first.host_suffix))
        standby = second

        def standby_ran() -> list[tuple[str, str, float, float | None, str | None]]:
            return [r for r in scheduled_runs(db_url) if r[0].endswith(standby.host_suffix) and r[3]]

        taken = wait_for("the standby to take over", standby_ran)
        # The standby keeps the schedule: its first run one interval after the dead leader's last start
        # (or later, if it noticed late), never sooner.
        assert taken[0][2] >= leader_started + INTERVAL - 0.01, (taken[0], leader_started)
        assert taken[0][1] == "ok"

        # Never two runs at once: each run starts after the one before finished.
        wait_for("two more runs by the new leader", lambda: standby_ran()[2:])
        history = [r for r in scheduled_runs(db_url) if r[4] is None or "abandoned" not in r[4]]
        for earlier, later in itertools.pairwise(history):
            assert earlier[3] is not None and later[2] >= earlier[3], (earlier, later)
        assert all(status == "ok" for _, status, *_ in history)
        # A run the killed leader left half-way is closed as abandoned, not left 'running'.
        left = [r for r in scheduled_runs(db_url) if r[0].endswith(first.host_suffix)]
        assert "running" not in [status for _, status, *_ in left]

        assert second.stop() == 0
        assert "scheduler stopped" in second.stderr()
        assert "Traceback" not in second.stderr()
    finally:
        for scheduler in (first, second):
            if scheduler is not None and scheduler.process.poll() is None:
                scheduler.kill()


@pytest.mark.slow
def test_the_scheduler_outlives_database_outages(site: str, outage_cluster: cluster.EmbeddedCluster,
                                                 tmp_path: Path) -> None:
    url = fresh(outage_cluster)
    outage_cluster.stop()
    scheduler = Scheduler(schedule_env(url, [site], tmp_path), tmp_path / "s.log")
    try:
        time.sleep(2 * INTERVAL)
        assert scheduler.process.poll() is None, scheduler.stderr()
        outage_cluster.start()
        wait_for("a run once the database is up", lambda: [r for r in scheduled_runs(url) if r[1] == "ok"])

        outage_cluster.stop()
        down_at = time.time()
        time.sleep(3 * INTERVAL)
        assert scheduler.process.poll() is None, scheduler.stderr()
        outage_cluster.start()
        after = wait_for("a run after the second outage",
                         lambda: [r for r in scheduled_runs(url) if r[1] == "ok" and r[2] > down_at + 1])
        assert source_runs(url, _run_id(url, after[0][2]))[site][0] == "ok"
        assert "lost the leader lock" in scheduler.stderr()
        assert scheduler.stop() == 0
        assert "Traceback" not in scheduler.stderr()
    finally:
        outage_cluster.start()
        if scheduler.process.poll() is None:
            scheduler.kill()


def _run_id(url: str, started: float) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT id FROM scrape_run WHERE extract(epoch FROM started_at)::float8 = %s",
                           (started,)).fetchone()
    assert row is not None
    return int(row[0])


def test_sigterm_stops_between_pages(httpserver: HTTPServer, db_url: str, tmp_path: Path) -> None:
    allow_all(httpserver)
    fetching, signalled = threading.Event(), threading.Event()

    def slow_page(_request: Request) -> Response:
        fetching.set()
        # The page is answered once the scheduler has seen the signal, however busy the machine.
        signalled.wait(20)
        return Response(html_page(), content_type="text/html")

    httpserver.expect_request("/slow").respond_with_handler(slow_page)
    httpserver.expect_request("/next").respond_with_data(html_page(), content_type="text/html")
    slow, following = httpserver.url_for("/slow"), httpserver.url_for("/next")
    scheduler = Scheduler(schedule_env(db_url, [slow, following], tmp_path), tmp_path / "s.log")
    try:
        assert fetching.wait(20), scheduler.stderr()
        scheduler.process.send_signal(signal.SIGTERM)
        wait_for("the signal to be seen", lambda: "SIGTERM received" in scheduler.stderr())
        signalled.set()
        assert scheduler.stop() == 0
    finally:
        if scheduler.process.poll() is None:
            scheduler.kill()
    [(_, status, _, finished, error)] = scheduled_runs(db_url)
    assert (status, error) == ("failed", "stopped after 1 of 2 source(s)") and finished
    assert [r.path for r, _ in httpserver.log if r.path != "/robots.txt"] == ["/slow"]
    assert "SIGTERM received: stopping after the current page" in scheduler.stderr()


def test_first_run_is_at_once_and_sigterm_cuts_a_backoff_short(httpserver: HTTPServer, db_url: str,
                                                               tmp_path: Path) -> None:
    allow_all(httpserver)
    asked = threading.Event()

    def unavailable(_request: Request) -> Response:
        asked.set()
        return Response("maintenance", status=503)

    httpserver.expect_request("/").respond_with_handler(unavailable)
    env = schedule_env(db_url, [httpserver.url_for("/")], tmp_path)
    env.update(FXTICKER_INTERVAL="1800", FXTICKER_FETCH_ATTEMPTS="4", FXTICKER_RETRY_BACKOFF="30")
    scheduler = Scheduler(env, tmp_path / "s.log")
    try:
        # A fresh database has no scheduled run yet, so the first one is due now, not in 30 minutes.
        assert asked.wait(20), scheduler.stderr()
        # Stopped within stop()'s 20 s: the 30 s wait before the second attempt was cut short.
        assert scheduler.stop() == 0
    finally:
        if scheduler.process.poll() is None:
            scheduler.kill()
    [(_, status, _, finished, _)] = scheduled_runs(db_url)
    assert status == "failed" and finished
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT status, error FROM scrape_source_run").fetchone()
    assert row == ("failed", "stopped while waiting to retry")
    assert [r.path for r, _ in httpserver.log if r.path != "/robots.txt"] == ["/"], "no second attempt"


def test_the_listener_logs_job_errors(db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    scrape = ScrapeConfig(sources=("/nonexistent",), tz=__import__("zoneinfo").ZoneInfo("UTC"),
                          max_bytes=1000, policy=FetchPolicy(attempts=1))
    runner = ScheduledScraper(db_url, scrape, ScheduleConfig(interval=60, jitter=0, poll=30))
    done = threading.Event()

    def broken_job() -> None:
        try:
            raise RuntimeError("a bug in a job")
        finally:
            done.set()

    runner.scheduler.add_job(broken_job, id="broken")
    caplog.set_level(logging.ERROR, logger="fxticker.scheduler")
    def logged() -> bool:
        return any("job broken failed" in r.getMessage() for r in caplog.records)

    def stop_once_logged() -> None:
        # Once the listener has logged, not after a guess at how long that takes.
        done.wait(10)
        wait_for("the listener", logged)
        runner.stop()

    stopper = threading.Thread(target=stop_once_logged)
    stopper.start()
    runner.run()
    stopper.join()
    assert any("job broken failed: RuntimeError('a bug in a job')" in r.getMessage() for r in caplog.records)


def test_a_schema_that_cannot_be_migrated_keeps_it_standing_by(site: str, empty_db_url: str,
                                                                tmp_path: Path) -> None:
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE observation (something_else integer)")
    scheduler = Scheduler(schedule_env(empty_db_url, [site], tmp_path), tmp_path / "s.log")
    try:
        wait_for("the migration error", lambda: "cannot lead: 001_observation.sql" in scheduler.stderr())
        assert scheduler.process.poll() is None
        with psycopg.connect(empty_db_url, autocommit=True) as conn:
            # The lock is let go after each failed try (held only for moments), not kept while idle.
            wait_for("the leader lock to be free", lambda: conn.execute(
                "SELECT pg_try_advisory_lock(%s)", (LEADER_LOCK,)).fetchone() == (True,), timeout=5)
        assert scheduler.stop() == 0
    finally:
        if scheduler.process.poll() is None:
            scheduler.kill()
    assert "Traceback" not in scheduler.stderr()
