"""A manual `official fetch` killed mid-run does not stay 'running' for ever: the next run closes it."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time

import psycopg
import pytest

from fxticker.official import rate_store
from fxticker.storage.scrape_runs import process_gone


def statuses(db_url: str) -> list[tuple[str, str | None]]:
    with psycopg.connect(db_url) as conn:
        return [(str(s), e) for s, e in conn.execute("SELECT status, error FROM official_run ORDER BY id")]


@pytest.mark.timing
def test_a_killed_manual_fetch_is_closed_by_the_next_run(env: dict[str, str], db_url: str) -> None:
    silent = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    try:
        origin = f"http://127.0.0.1:{silent.getsockname()[1]}"
        fetch = [sys.executable, "-m", "fxticker", "official", "fetch"]
        day = ["--since", "2026-05-18", "--until", "2026-05-18"]
        stuck = subprocess.Popen([*fetch, "--provider", "nbk", *day],
                                 env={**env, "FXTICKER_OFFICIAL_ORIGINS": f"nbk={origin}"},
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while statuses(db_url) != [("running", None)]:
            assert time.monotonic() < deadline and stuck.poll() is None
            time.sleep(0.2)
        stuck.send_signal(signal.SIGKILL)
        stuck.wait(timeout=30)
        assert statuses(db_url) == [("running", None)]
        peg = subprocess.run([*fetch, "--provider", "peg", *day],
                             env=env, capture_output=True, text=True, timeout=120, check=False)
        assert peg.returncode == 0, peg.stderr
        assert statuses(db_url) == [("failed", "abandoned: its process ended during the run"), ("ok", None)]
    finally:
        silent.close()


def test_a_running_run_of_a_live_process_or_another_machine_is_left_alone(conn: psycopg.Connection) -> None:
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                           text=True, check=True)
    here = socket.gethostname()
    now = dt.datetime.now(dt.UTC)
    for host, started in ((f"{here}/{ended.stdout.strip()}", now), (f"{here}/{os.getpid()}", now),
                          ("elsewhere/1", now), ("elsewhere/2", now - dt.timedelta(days=3))):
        rate_store.start_run(conn, started_at=started, trigger="manual", host=host, since=now.date(),
                             until=now.date())
    assert rate_store.close_dead(conn, process_gone) == 2
    rows = conn.execute("SELECT host, status FROM official_run ORDER BY id").fetchall()
    assert [status for _, status in rows] == ["failed", "running", "running", "failed"]
