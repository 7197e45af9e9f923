"""kill -9 of `fxticker ingest` halfway through a big directory, then a re-run: nothing lost or doubled.

Each batch of pages is one transaction, so a killed run leaves whole pages only; the re-run stores the
rest and counts the stored ones as duplicates.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from tests.fix_reliability import record_figure
from tests.pages import FIVE, text_page

pytestmark = pytest.mark.reliability

PAGES = 2000
FIRST_DAY = dt.date(2019, 1, 1)


def page_quotes(index: int) -> list[tuple[str, str, str]]:
    """Quotes that differ from page to page, so that every stored row can be traced to its page."""
    kzt = f"0.{1900 + index:05d}"[:7]
    change = f"-{index % 7}.{index % 100:02d}" if index % 2 else f"{index % 5}.{index % 10}"
    return [(c, kzt if c == "KZT" else r, change if c == "TJS" else ch) for c, r, ch in FIVE]


def expected_rows() -> set[tuple[dt.date, str, str, str, str]]:
    rows = set()
    for index in range(PAGES):
        for currency, rate, change in page_quotes(index):
            number = change.lstrip("-")
            direction = "down" if change.startswith("-") else ("up" if float(number) > 0 else "flat")
            # the table keeps a quoted "-0" as 0 with direction down; numeric keeps the scale
            text = number if change.startswith("-") and float(number) == 0 else change
            rows.add((FIRST_DAY + dt.timedelta(days=index), currency, rate, text, direction))
    return rows


def write_pages(folder: Path) -> None:
    folder.mkdir()
    for index in range(PAGES):
        day = FIRST_DAY + dt.timedelta(days=index)
        page = text_page(page_quotes(index), date=f"{day.day} {day:%B %Y}")
        # Split over subdirectories, as a crawl would be: ingest reads directories recursively.
        sub = folder / f"{day:%Y}"
        sub.mkdir(exist_ok=True)
        (sub / f"{day:%m-%d}.txt").write_text(page, "utf-8")


def count(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM observation").fetchone()
    return int(row[0]) if row else 0


@pytest.mark.timing
def test_kill_9_halfway_then_a_rerun_stores_every_row_exactly_once(
    env: dict[str, str], db_url: str, tmp_path: Path, conn: psycopg.Connection
) -> None:
    folder = tmp_path / "crawl"
    write_pages(folder)
    want = expected_rows()
    assert len(want) == PAGES * 5

    command = [sys.executable, "-m", "fxticker", "ingest", str(folder)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while count(conn) < len(want) // 2:
            assert process.poll() is None, "ingest finished before it could be killed"
            assert time.monotonic() < deadline, "ingest made no progress"
            time.sleep(0.02)
        process.kill()  # SIGKILL: no handler, no cleanup, a transaction may be in flight
    finally:
        process.kill()
        process.wait(30)
    assert process.returncode == -9

    stored = conn.execute(
        "SELECT rate_date, currency, rate::text, change_pct::text, direction FROM observation"
    ).fetchall()
    killed_at = len(stored)
    assert len(want) // 2 <= killed_at < len(want), "killed halfway"
    per_day = conn.execute(
        "SELECT count(*) FROM observation GROUP BY rate_date HAVING count(*) <> 5"
    ).fetchall()
    assert per_day == [], "every page is stored whole or not at all"
    assert set(stored) <= want, "what is stored is what the pages said"

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stderr.splitlines()[-1] == (
        f"{PAGES} page(s) read, {len(want) - killed_at} observation(s) new, "
        f"{killed_at} duplicate(s), 0 page(s) rejected"
    )
    rows = conn.execute(
        "SELECT rate_date, currency, rate::text, change_pct::text, direction FROM observation"
    ).fetchall()
    assert len(rows) == len(want), "no duplicates"
    assert set(rows) == want, "nothing lost, nothing changed"
    sightings = conn.execute("SELECT DISTINCT sightings FROM observation").fetchall()
    assert sightings == [(1,)], "a re-read of an unchanged file is not a new sighting"

    record_figure(
        "kill9-ingest", "rows lost after kill -9 of ingest and a re-run", 0,
        f"{PAGES:,} pages ({len(want):,} rows): killed after {killed_at:,} rows "
        f"({killed_at // 5:,} whole pages, 0 partial); the re-run stored the other "
        f"{len(want) - killed_at:,}; 0 duplicates, every sightings = 1 (test_reliability_ingest.py)",
    )
