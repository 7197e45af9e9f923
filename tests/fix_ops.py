"""Fixtures for the operations tests: an app on the test database, scrape accounting rows, stored days."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg

from fxticker.collect.ingest import ingest_many
from tests.pages import FIVE, text_page


def add_scrape_run(
    conn: psycopg.Connection,
    status: str,
    finished_at: dt.datetime | None,
    sources: list[tuple[str, str, int, int, str | None]] = (),  # type: ignore[assignment]
) -> int:
    """One scrape_run row (as the scheduler writes it) and its sources: (source, status, new, dup, error)."""
    started = (finished_at or dt.datetime.now(dt.UTC)) - dt.timedelta(seconds=3)
    row = conn.execute(
        "INSERT INTO scrape_run (started_at, finished_at, status, trigger, host, sources_total,"
        " sources_failed, error) VALUES (%s, %s, %s, 'schedule', 'test', %s, %s, %s) RETURNING id",
        (started, finished_at, status, len(sources), sum(s[1] == "failed" for s in sources),
         "all sources failed" if status == "failed" else None),
    ).fetchone()
    assert row is not None
    for source, source_status, new, duplicate, error in sources:
        conn.execute(
            "INSERT INTO scrape_source_run (run_id, source, started_at, finished_at, http_status, status,"
            " observations_new, observations_duplicate, error) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (row[0], source, started, finished_at or started, 500 if source_status == "failed" else 200,
             source_status, new, duplicate, error),
        )
    return int(row[0])


def store_days(folder: Path, days: list[dt.date]) -> None:
    """Ingest one page per day, every rate nudged by the day so the series is not flat."""
    for n, day in enumerate(days):
        quotes = [(c, f"{float(r) * (1 + n / 100):.5f}", ch) for c, r, ch in FIVE]
        path = folder / f"page-{day.isoformat()}.txt"
        path.write_text(text_page(quotes, date=day.strftime("%d %B %Y")))
    summary = ingest_many([str(folder / f"page-{d.isoformat()}.txt") for d in days], None)
    assert not summary.rejected
