"""Grafana: every panel's SQL, its macros expanded as Grafana does (tests.grafana), run against the test
database as the reader login."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.fix_ops import add_scrape_run, store_days
from tests.grafana import FROM, TO, expand, queries


@pytest.fixture
def reader(conn: psycopg.Connection, tmp_path: Path, env: dict[str, str]) -> psycopg.Connection:
    """The test database with a month of quotes and some scrape runs, seen as Grafana's read-only role."""
    store_days(tmp_path, [FROM.date() + dt.timedelta(days=n) for n in range(0, 20, 2)])
    for hours in range(1, 13):
        finished = TO - dt.timedelta(days=5, hours=hours)
        failed = hours % 4 == 0
        add_scrape_run(conn, "failed" if failed else "ok", finished, [
            ("https://a.test/", "ok", 5 if hours == 12 else 0, 0 if hours == 12 else 5, None),
            ("https://b.test/", "failed" if failed else "not_modified", 0, 0,
             "timed out" if failed else None),
        ])
    conn.execute("SET ROLE fxticker_reader")
    return conn


@pytest.mark.parametrize("interval", [None, "7d"], ids=["panel-interval", "zoomed-out"])
def test_every_panel_query_runs_as_the_reader(reader: psycopg.Connection, interval: str | None) -> None:
    all_queries = queries()
    assert len(all_queries) >= 8
    results = {}
    for board, title, min_interval, raw in all_queries:
        sql = expand(raw, interval=interval or min_interval, variables={"currency": ["KZT", "UZS", "TMT"]})
        try:
            with reader.cursor(row_factory=dict_row) as cur:
                results[(board, title)] = cur.execute(sql.encode()).fetchall()
        except psycopg.Error as exc:
            pytest.fail(f"{board}: panel {title!r}: {exc.diag.message_primary}\n{sql}")
    latest = results[("rates.json", "Latest quote")]
    assert [(r["currency"], str(r["USD per unit"]), r["day"]) for r in latest] == [
        ("KZT", "0.00210", dt.date(2025, 12, 19)),
        ("TMT", "0.31054", dt.date(2025, 12, 19)),
        ("UZS", "0.00009", dt.date(2025, 12, 19)),
    ]
    assert [r["currency"] for r in results[("rates.json", "variable currency")]] == [
        "KGS", "KZT", "TJS", "TMT", "UZS"]
    by_day = results[("rates.json", "$currency/USD by day")]
    assert {r["metric"] for r in by_day} == {"KZT", "UZS", "TMT"}
    assert len(by_day) == (30 if interval is None else len({r["time"] for r in by_day}) * 3)
    runs = {r["status"]: r["runs"] for r in results[("scrape-health.json", "Runs by outcome")]}
    assert runs == {"ok": 9, "failed": 3}
    age = results[("scrape-health.json", "Since the last successful scrape")][0]["age"]
    assert age > 5 * 86400
    sources = {r["source"]: r for r in results[("scrape-health.json", "Sources")]}
    failing = sources["https://b.test/"]
    assert (failing["failures"], failing["last error"]) == (3, "timed out")
