"""The scheduler's daily official fetches: as leader, recorded, caught up after a day, each bank alone."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
import zoneinfo

import psycopg
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from fxticker.collect.fetcher import FetchPolicy
from fxticker.collect.scrape import ScrapeConfig
from fxticker.official.bank_runs import OfficialConfig
from fxticker.official.banks import PROVIDERS
from fxticker.scheduler import OFFICIAL_JOB, ScheduleConfig, ScheduledScraper
from tests.bank_answers import BANKS

FAST = FetchPolicy(timeout=2, connect_timeout=1, attempts=2, backoff=0.01, max_wait=0.1)


def nbt_for_the_day_asked(request: Request) -> Response:
    day = request.args["date"]
    body = (BANKS / "nbt-2026-05-19.xml").read_bytes().replace(b'Date="2026-05-19"', f'Date="{day}"'.encode())
    return Response(body, content_type="application/xml")


def parts(url: str) -> list[tuple[str, str, str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT p.provider, p.status, r.trigger FROM official_run_provider p"
            " JOIN official_run r ON r.id = p.run_id ORDER BY p.provider").fetchall()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_the_leader_fetches_each_provider_and_schedules_the_next_day(db_url: str,
                                                                     httpserver: HTTPServer) -> None:
    httpserver.expect_request("/en/kurs/export_xml.php").respond_with_handler(nbt_for_the_day_asked)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{closed.getsockname()[1]}"
    origin = httpserver.url_for("/").rstrip("/")
    official = OfficialConfig(origins={"nbt": origin, "nbk": refused, "cbu": refused, "nbkr": refused},
                              policy=FAST, max_bytes=10**6, pause=0)
    scrape = ScrapeConfig(sources=("/nonexistent",), tz=zoneinfo.ZoneInfo("UTC"), max_bytes=10**6,
                          policy=FAST)
    runner = ScheduledScraper(db_url, scrape, ScheduleConfig(interval=3600, jitter=0, poll=0.2), official)
    runner.official_catch_up = dt.timedelta(0)
    seen: dict[str, object] = {}

    def watch() -> None:
        try:
            deadline = time.monotonic() + 30
            while len(parts(db_url)) < len(PROVIDERS) and time.monotonic() < deadline:
                time.sleep(0.2)
            seen["parts"] = parts(db_url)
            job = runner.scheduler.get_job(OFFICIAL_JOB.format("nbt"))
            seen["nbt next"] = job.next_run_time.astimezone(dt.UTC) if job else None
            # A leader taking over now finds every provider fetched within the day: no catch-up.
            runner._schedule_official()
            job = runner.scheduler.get_job(OFFICIAL_JOB.format("peg"))
            seen["peg next"] = job.next_run_time.astimezone(dt.UTC) if job else None
        finally:
            runner.stop()

    watcher = threading.Thread(target=watch)
    watcher.start()
    runner.run()  # in the main thread: it installs signal handlers
    watcher.join(10)
    # Nothing fetched for a day: each provider once, at once, recorded as scheduled; a bank that refuses
    # connections fails alone.
    assert seen["parts"] == [("cbu", "failed", "schedule"), ("nbk", "failed", "schedule"),
                             ("nbkr", "failed", "schedule"), ("nbt", "ok", "schedule"),
                             ("peg", "ok", "schedule")]
    # The next fetches are at each provider's own time of day, not again now.
    now = dt.datetime.now(dt.UTC)
    for key in ("nbt", "peg"):
        fires = seen[f"{key} next"]
        assert isinstance(fires, dt.datetime)
        assert fires.time() == PROVIDERS[key].fetch_at
        assert dt.timedelta(0) < fires - now <= dt.timedelta(days=1)
    today = now.date()
    with psycopg.connect(db_url) as conn:
        days = [row[0] for row in conn.execute(
            "SELECT rate_date FROM official_rate WHERE provider = 'nbt' ORDER BY rate_date")]
        pegged = conn.execute("SELECT min(rate_date), max(rate_date) FROM official_rate"
                              " WHERE provider = 'peg'").fetchone()
    week = [today - dt.timedelta(days=n) for n in range(7, -1, -1)]
    assert days == [d for d in week if d.weekday() < 5]
    assert pegged == (week[0], today)
    assert len(parts(db_url)) == len(PROVIDERS)
