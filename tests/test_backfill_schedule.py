"""The scheduler's backfill on start: behind the leader lock, on an empty or half-backfilled database."""

from __future__ import annotations

import logging
import threading
import time
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_SUBMITTED, JobEvent
from pytest_httpserver import HTTPServer

from fxticker.collect.archive import ArchivePolicy
from fxticker.collect.backfill import BackfillConfig
from fxticker.collect.fetcher import FetchPolicy
from fxticker.collect.scrape import ScrapeConfig
from fxticker.scheduler import BACKFILL_JOB, LEADER_LOCK, LEADERSHIP_JOB, ScheduleConfig, ScheduledScraper
from tests.fix_archive import ORIGINAL, FakeArchive, too_many
from tests.fix_scrape import allow_all, quotes
from tests.fix_wait import wait_for
from tests.pages import html_page

ALMATY = zoneinfo.ZoneInfo("Asia/Almaty")
FAST = FetchPolicy(timeout=2.0, connect_timeout=1.0, attempts=2, backoff=0.01, max_wait=0.1)


def scheduler(db_url: str, server: HTTPServer, fake: FakeArchive, **policy: float) -> ScheduledScraper:
    server.expect_request("/site").respond_with_data(html_page(quotes("0.00199"), date="1 November 2026"),
                                                     content_type="text/html; charset=utf-8")
    allow_all(server)
    scrape = ScrapeConfig(sources=(server.url_for("/site"),), tz=ALMATY, max_bytes=10**6, policy=FAST)
    archive = ArchivePolicy(base_url=fake.url, delay=0.0, fetch=FAST, **policy)
    backfill = BackfillConfig(sources=(ORIGINAL,), tz=ALMATY, max_bytes=10**6, policy=archive)
    return ScheduledScraper(db_url, scrape, ScheduleConfig(interval=600, jitter=0, poll=0.2),
                            backfill_config=backfill)


class Jobs:
    """The scheduler's jobs as APScheduler reports them: which were handed to a thread, which ended.

    Tests wait for these events, not for a guess at how long a poll takes on a busy machine.
    """

    def __init__(self, sched: ScheduledScraper) -> None:
        self.submitted: list[str] = []
        self.ended: list[str] = []
        sched.scheduler.add_listener(self._event, EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)

    def _event(self, event: JobEvent) -> None:
        (self.submitted if event.code == EVENT_JOB_SUBMITTED else self.ended).append(event.job_id)


def finished(sched: ScheduledScraper) -> None:
    """What run() does once the scheduler stops: wait for the jobs in flight, then let go of the lock."""
    with sched._leadership_busy, sched._scrape_busy, sched._official_busy, sched._backfill_busy:
        pass
    sched.leadership.release()
    sched.scraper.close()


@contextmanager
def running(sched: ScheduledScraper) -> Iterator[None]:
    # The scheduler's own loop in a thread: run() would install signal handlers, which only the main
    # thread may do.
    thread = threading.Thread(target=sched.scheduler.start)
    thread.start()
    try:
        yield
    finally:
        sched.stop()
        thread.join(20)
        finished(sched)


def stored(db_url: str) -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT count(*) FROM archive_capture WHERE status = 'stored'").fetchone()
    return int(row[0]) if row else 0


def add_captures(fake: FakeArchive) -> None:
    for day in (1, 2, 3):
        fake.add(f"2024020{day}100000", html_page(quotes(f"0.0021{day}"), date=f"{day} February 2024"))


def test_only_the_leader_backfills_and_only_once_it_leads(httpserver: HTTPServer, db_url: str) -> None:
    fake = FakeArchive(httpserver)
    add_captures(fake)
    sched = scheduler(db_url, httpserver, fake)
    jobs = Jobs(sched)
    with psycopg.connect(db_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (LEADER_LOCK,))
        with running(sched):
            wait_for("three polls as a standby", lambda: jobs.ended.count(LEADERSHIP_JOB) >= 3)
            assert not sched.leadership.leading
            assert BACKFILL_JOB not in jobs.submitted and fake.requests == []
            holder.close()  # the other leader goes away
            wait_for("the backfill", lambda: stored(db_url) == 3)
    with psycopg.connect(db_url) as conn:
        rates = [r[0] for r in conn.execute(
            "SELECT rate::text FROM observation WHERE currency = 'KZT' ORDER BY rate_date").fetchall()]
    assert rates == ["0.00211", "0.00212", "0.00213", "0.00199"]  # the history, then today's scrape


def test_no_backfill_when_the_database_already_holds_observations(httpserver: HTTPServer,
                                                                  db_url: str) -> None:
    fake = FakeArchive(httpserver)
    add_captures(fake)
    sched = scheduler(db_url, httpserver, fake)
    jobs = Jobs(sched)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO observation (rate_date, currency, rate, change_pct, direction, first_seen,"
                     " last_seen, first_source, last_source, first_hash, last_hash) VALUES ('2026-01-05',"
                     " 'KZT', 0.002, 0, 'flat', now(), now(), 'x', 'x', 'h', 'h')")
        with running(sched):
            wait_for("the first scrape", lambda: conn.execute(
                "SELECT count(*) FROM scrape_run WHERE status = 'ok'").fetchone() == (1,))
            # The poll that took the lead began before that scrape and adds the backfill job, if any, as
            # it ends (one poll at a time): once a poll ends after the scrape, that decision is made.
            polls = jobs.ended.count(LEADERSHIP_JOB)
            wait_for("a poll as the leader", lambda: jobs.ended.count(LEADERSHIP_JOB) > polls)
            assert sched.leadership.leading
            assert BACKFILL_JOB not in jobs.submitted and sched.scheduler.get_job(BACKFILL_JOB) is None
        assert fake.requests == []


@pytest.mark.timing
def test_a_stop_during_a_429_pause_is_prompt_and_sends_nothing_more(
        httpserver: HTTPServer, db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeArchive(httpserver)
    add_captures(fake)
    fake.captures["20240202100000"].script.append(too_many())  # the production pause: at least 60 s
    sched = scheduler(db_url, httpserver, fake)
    assert sched.backfill_config is not None and sched.backfill_config.policy.rate_limit_pause >= 60
    pause = sched.backfill_config.policy.rate_limit_pause
    with caplog.at_level(logging.INFO, logger="fxticker"), running(sched):
        wait_for("the 429's pause", lambda: any("pausing every request" in r.getMessage()
                                                for r in caplog.records))
        paused_at = time.monotonic()
        sched.stop()
        finished(sched)
        # A stop that waited the pause out would take nearly all of it (it began just before paused_at);
        # a prompt one takes well under a second, so half the pause is far from both.
        assert time.monotonic() - paused_at < pause / 2
        assert any("backfill stopped with the scheduler" in r.getMessage() for r in caplog.records)
    assert fake.fetched() == ["20240201100000", "20240202100000"]
    assert stored(db_url) == 1
    # The next leader resumes: the half-done backfill is wanted again, though observations exist now.
    fake.captures["20240202100000"].script.clear()
    again = scheduler(db_url, httpserver, fake, rate_limit_pause=0.1)
    with running(again):
        wait_for("the resumed backfill", lambda: stored(db_url) == 3)
    assert fake.fetched().count("20240201100000") == 1
