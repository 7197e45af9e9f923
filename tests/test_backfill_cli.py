"""`fxticker backfill` as a user runs it: a subprocess against a real local archive and the real database.

Bad input gives one clear line and the right exit status; a run killed with SIGKILL midway and run again
loses nothing and fetches nothing it had stored.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import threading

import psycopg
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from tests.fix_archive import ORIGINAL, FakeArchive, memento_datetime, unavailable
from tests.fix_scrape import quotes
from tests.fix_serve import free_port
from tests.pages import html_page

FXTICKER = [sys.executable, "-m", "fxticker"]


@pytest.fixture
def fake(httpserver: HTTPServer) -> FakeArchive:
    return FakeArchive(httpserver, page_size=3)


@pytest.fixture
def archive_env(env: dict[str, str], fake: FakeArchive) -> dict[str, str]:
    return {**env, "FXTICKER_ARCHIVE_URL": fake.url, "FXTICKER_ARCHIVE_DELAY": "0",
            "FXTICKER_SOURCES": ORIGINAL, "FXTICKER_FETCH_ATTEMPTS": "2", "FXTICKER_RETRY_BACKOFF": "0"}


def backfill(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # --no-official: the official rates' part of a backfill is tested in test_official_backfill.py.
    return subprocess.run([*FXTICKER, "backfill", "--no-official", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def errors(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The error lines a user reads (usage errors from click, others from fxticker), never a traceback."""
    assert "Traceback" not in result.stderr
    return [line for line in result.stderr.splitlines() if line.startswith(("Error:", "fxticker:"))]


def add_days(fake: FakeArchive, count: int, month: str = "2024-03") -> list[str]:
    stamps = []
    for day in range(1, count + 1):
        shown = dt.date.fromisoformat(f"{month}-{day:02d}")
        stamp = f"{shown:%Y%m%d}100000"
        fake.add(stamp, html_page(quotes(f"0.002{day:02d}"), date=f"{shown.day} {shown:%B %Y}"))
        stamps.append(stamp)
    return stamps


def stored(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute("SELECT to_char(captured_at AT TIME ZONE 'UTC', 'YYYYMMDDHH24MISS')"
                        " FROM archive_capture WHERE status = 'stored' ORDER BY captured_at").fetchall()
    return [row[0] for row in rows]


def kzt_rates(conn: psycopg.Connection) -> list[str]:
    return [row[0] for row in conn.execute(
        "SELECT rate::text FROM observation WHERE currency = 'KZT' ORDER BY rate").fetchall()]


def test_a_run_reports_its_summary_and_exits_0(archive_env: dict[str, str], fake: FakeArchive,
                                               conn: psycopg.Connection) -> None:
    stamps = add_days(fake, 4)
    result = backfill([], archive_env)
    assert result.returncode == 0, result.stderr
    assert ("4 capture(s) listed, 0 already known, 4 fetched: 4 stored (20 new, 0 duplicate quote(s)), "
            "0 rejected, 0 failed") in result.stderr
    assert stored(conn) == stamps
    again = backfill([], archive_env)
    assert again.returncode == 0 and "4 capture(s) listed, 4 already known, 0 fetched" in again.stderr


def test_a_capture_that_cannot_be_fetched_makes_exit_1_and_the_others_are_stored(
        archive_env: dict[str, str], fake: FakeArchive, conn: psycopg.Connection) -> None:
    stamps = add_days(fake, 3)
    fake.captures[stamps[1]].script += [unavailable()] * 2
    result = backfill([], archive_env)
    assert result.returncode == 1
    assert f"failed {fake.url}/web/{stamps[1]}id_/{ORIGINAL}: HTTP 503 (after 2 attempts)" in result.stderr
    assert stored(conn) == [stamps[0], stamps[2]]


def test_a_dry_run_prints_counts_per_month_and_fetches_nothing(archive_env: dict[str, str],
                                                               fake: FakeArchive,
                                                               conn: psycopg.Connection) -> None:
    add_days(fake, 3, "2024-03")
    add_days(fake, 1, "2024-05")
    result = backfill(["--dry-run"], archive_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "2024-03\t3\n2024-05\t1\n"
    assert "dry run: 4 capture(s) listed, 0 already known, 4 to fetch" in result.stderr
    assert fake.fetched() == [] and stored(conn) == []


def test_a_run_killed_midway_and_run_again_loses_nothing_and_refetches_nothing_stored(
        archive_env: dict[str, str], fake: FakeArchive, conn: psycopg.Connection) -> None:
    stamps = add_days(fake, 8)
    reached, release = threading.Event(), threading.Event()
    fifth = fake.captures[stamps[4]]

    def hang() -> Response:
        reached.set()
        release.wait(30)
        return Response("too late", status=503)

    fifth.script.append(hang)
    process = subprocess.Popen([*FXTICKER, "backfill", "--no-official"], env=archive_env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert reached.wait(60), "the backfill never reached the fifth capture"
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(30) == -signal.SIGKILL
    finally:
        release.set()
        if process.poll() is None:
            process.kill()
            process.wait()
    assert stored(conn) == stamps[:4]
    assert kzt_rates(conn) == [f"0.002{day:02d}" for day in range(1, 5)]

    result = backfill([], archive_env)

    assert result.returncode == 0, result.stderr
    assert "8 capture(s) listed, 4 already known, 4 fetched: 4 stored" in result.stderr
    assert stored(conn) == stamps
    assert kzt_rates(conn) == [f"0.002{day:02d}" for day in range(1, 9)]
    fetched = fake.fetched()
    assert all(fetched.count(stamp) == 1 for stamp in stamps[:4] + stamps[5:])
    assert fetched.count(stamps[4]) == 2  # fetched when killed, nothing stored: fetched again


def test_since_after_until_is_a_usage_error(archive_env: dict[str, str], fake: FakeArchive) -> None:
    result = backfill(["--since", "2025-02-01", "--until", "2025-01-01"], archive_env)
    assert result.returncode == 2
    assert errors(result) == ["Error: Invalid value for '--since': 2025-02-01 is after --until 2025-01-01"]
    assert fake.requests == []


@pytest.mark.parametrize("date", ["2025-13-01", "01/02/2025", "yesterday"])
def test_a_malformed_date_is_a_usage_error(archive_env: dict[str, str], date: str) -> None:
    result = backfill(["--until", date], archive_env)
    assert result.returncode == 2
    # The wording is the date option's own (vocab.parse_date); one line naming the option and the value.
    [line] = errors(result)
    assert line.startswith(f"Error: Invalid value for '--until': {date!r} is not a ")
    assert line.endswith("date of the form YYYY-MM-DD")


def test_a_url_that_is_not_one_is_a_usage_error(archive_env: dict[str, str]) -> None:
    result = backfill(["timesca.com"], archive_env)
    assert result.returncode == 2
    [line] = errors(result)
    assert line.startswith("Error: Invalid value for 'URL': timesca.com: not an http(s) URL with a host")


def test_an_unreachable_archive_is_one_line_and_exit_1(archive_env: dict[str, str]) -> None:
    gone = f"http://127.0.0.1:{free_port()}"
    result = backfill([], {**archive_env, "FXTICKER_ARCHIVE_URL": gone})
    assert result.returncode == 1
    [line] = errors(result)
    assert line.startswith(f"fxticker: {gone}/cdx/search/cdx (captures of {ORIGINAL}): ")
    assert "ConnectError" in line and line.endswith("(after 2 attempts)")


def test_an_archive_answering_html_instead_of_cdx_json_is_one_line_and_exit_1(
        archive_env: dict[str, str], fake: FakeArchive) -> None:
    fake.cdx_answer = lambda: Response("<!DOCTYPE html><html><body>Welcome</body></html>",
                                       content_type="text/html")
    result = backfill([], archive_env)
    assert result.returncode == 1
    assert errors(result) == [f"fxticker: {fake.url}/cdx/search/cdx (captures of {ORIGINAL}): the archive "
                              "answered HTML, not CDX JSON"]


@pytest.mark.parametrize(("name", "value"), [("FXTICKER_ARCHIVE_URL", "archive.local"),
                                             ("FXTICKER_ARCHIVE_DELAY", "-2")])
def test_a_bad_archive_setting_is_one_line_and_exit_1(archive_env: dict[str, str], name: str,
                                                      value: str) -> None:
    result = backfill([], {**archive_env, name: value})
    assert result.returncode == 1
    [line] = errors(result)
    assert line.startswith(f"fxticker: {name}='{value}': ")


def test_an_archived_404_listed_as_200_is_rejected_not_failed(archive_env: dict[str, str],
                                                              fake: FakeArchive,
                                                              conn: psycopg.Connection) -> None:
    stamps = add_days(fake, 2)
    fake.captures[stamps[0]].script.append(lambda: Response("gone", status=404, headers={
        "Memento-Datetime": memento_datetime(stamps[0])}))
    result = backfill([], archive_env)
    assert result.returncode == 0, result.stderr
    assert "1 stored" in result.stderr and "1 rejected, 0 failed" in result.stderr
    assert (f"rejected {fake.url}/web/{stamps[0]}id_/{ORIGINAL}: the archived page is an HTTP 404\n"
            in result.stderr)


def test_on_a_terminal_a_progress_bar_counts_the_captures_with_an_eta(
        archive_env: dict[str, str], fake: FakeArchive) -> None:
    add_days(fake, 3)
    primary, secondary = pty.openpty()
    # A terminal of 100 columns: a new pty has none, and the bar fits itself to the width.
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        process = subprocess.Popen([*FXTICKER, "backfill", "--no-official"], env=archive_env,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=secondary)
        os.close(secondary)
        output = b""
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            output += chunk
        assert process.wait(60) == 0, output.decode(errors="replace")
    finally:
        os.close(primary)
    text = output.decode(errors="replace")
    assert "3/3" in text and "capture/s" in text and "<00:00" in text, repr(text)  # done, rate, time left
    assert "3 capture(s) listed, 0 already known, 3 fetched: 3 stored" in text
