"""The daily series: the same columns and rows whichever edition of TimescaleDB migrate found.

On the community license migrate builds a continuous aggregate with a refresh policy and compresses old
chunks; on the Apache-only build that `make setup` makes (this suite's server) it builds a plain view.
The license test below takes the branch the server's license allows, and asserts it either way: here
that migrate picked the Apache path. The community SQL cannot run here, so it is validated as far as an
Apache server allows: PostgreSQL's parser checks every statement, its SELECT runs as a query (time_bucket
and last() are Apache-licensed), and the policy calls' named arguments are checked against the functions.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import psycopg
import pytest

from fxticker.collect.ingest import ingest_many
from tests.pages import FIVE, text_page

MIGRATION = Path(__file__).resolve().parent.parent / "sql" / "003_reader_daily_series.sql"
COLUMNS = ["rate_date", "currency", "rate", "change_pct", "direction", "last_seen", "last_source",
           "rate_low", "rate_high"]


def community_sql() -> str:
    text = MIGRATION.read_text()
    match = re.search(r"-- community:begin\n(.*?)\n\s*-- community:end", text, re.DOTALL)
    assert match, "the community branch markers are missing from the migration"
    return match[1]


@pytest.fixture
def revised_days(env: dict[str, str], tmp_path: Path) -> None:
    """Two days; on the second, KZT is revised by a later capture."""
    pages = [
        ("a.txt", FIVE, "18 December 2025", 1000),
        ("b.txt", FIVE, "19 December 2025", 2000),
        ("c.txt", [("KZT", "0.00195", "1.04"), *FIVE[2:]], "19 December 2025", 3000),
    ]
    for name, quotes, day, mtime in pages:
        path = tmp_path / name
        path.write_text(text_page(quotes, date=day))
        os.utime(path, (1_766_000_000 + mtime, 1_766_000_000 + mtime))
    assert not ingest_many([str(tmp_path / p[0]) for p in pages], None).rejected


def test_daily_series_has_daily_rates_columns_and_rows(conn: psycopg.Connection, revised_days: None) -> None:
    series = conn.execute("SELECT * FROM daily_series ORDER BY currency, rate_date")
    assert [c.name for c in series.description or []] == COLUMNS
    rows = series.fetchall()
    assert rows == conn.execute(
        f"SELECT {', '.join(COLUMNS)} FROM daily_rate ORDER BY currency, rate_date").fetchall()
    kzt = [(r[0], str(r[2]), str(r[3]), r[4]) for r in rows if r[1] == "KZT"]
    assert kzt == [(dt.date(2025, 12, 18), "0.00193", "0", "down"),
                   (dt.date(2025, 12, 19), "0.00195", "1.04", "up")]


def test_migrate_picks_the_path_the_license_allows(conn: psycopg.Connection) -> None:
    license_row = conn.execute("SHOW timescaledb.license").fetchone()
    assert license_row is not None
    aggregates = conn.execute(
        "SELECT view_name, materialized_only FROM timescaledb_information.continuous_aggregates"
    ).fetchall()
    jobs = sorted(r[0] for r in conn.execute(
        "SELECT proc_name FROM timescaledb_information.jobs WHERE hypertable_name IS NOT NULL"))
    compressed = conn.execute(
        "SELECT compression_enabled FROM timescaledb_information.hypertables"
        " WHERE hypertable_name = 'observation'").fetchone()
    definition = conn.execute("SELECT pg_get_viewdef('daily_series'::regclass)").fetchone()
    assert definition is not None
    if license_row[0] == "timescale":
        assert aggregates == [("daily_series_agg", False)]
        assert jobs == ["policy_compression", "policy_refresh_continuous_aggregate"]
        assert compressed == (True,)
        assert "daily_series_agg" in definition[0]
    else:
        # This suite's server: TimescaleDB built Apache-only, so migrate must have taken the plain view.
        assert license_row[0] == "apache"
        assert (aggregates, jobs, compressed) == ([], [], (False,))
        assert re.search(r"FROM daily_rate\b", definition[0])


def test_community_sql_parses(conn: psycopg.Connection) -> None:
    # PL/pgSQL runs PostgreSQL's parser over every statement of a block when it compiles it, also in a
    # branch that never runs, so this checks the syntax without needing the community license.
    conn.execute(f"DO $$ BEGIN IF false THEN {community_sql()} END IF; END $$".encode())
    broken = community_sql().replace("GROUP BY 1, 2", "GROUP 1, 2")
    with pytest.raises(psycopg.errors.SyntaxError):
        conn.execute(f"DO $$ BEGIN IF false THEN {broken} END IF; END $$".encode())


def test_community_aggregate_query_gives_daily_rate(conn: psycopg.Connection, revised_days: None) -> None:
    text = community_sql()
    aggregate = re.search(r"(SELECT time_bucket.*?GROUP BY 1, 2)", text, re.DOTALL)
    view = re.search(r"CREATE VIEW daily_series AS\s+(SELECT.*?FROM daily_series_agg)", text, re.DOTALL)
    assert aggregate and view
    query = f"WITH daily_series_agg AS ({aggregate[1]}) {view[1]} ORDER BY currency, rate_date"
    result = conn.execute(query.encode())
    assert [c.name for c in result.description or []] == COLUMNS
    assert result.fetchall() == conn.execute(
        f"SELECT {', '.join(COLUMNS)} FROM daily_rate ORDER BY currency, rate_date").fetchall()


@pytest.mark.parametrize(("function", "arguments"), [
    ("add_continuous_aggregate_policy", {"start_offset", "end_offset", "schedule_interval"}),
    ("add_compression_policy", {"compress_after"}),
])
def test_community_policy_calls_match_the_functions(
    conn: psycopg.Connection, function: str, arguments: set[str]
) -> None:
    assert re.search(rf"PERFORM {function}\(", community_sql())
    used = set(re.findall(r"(\w+) =>", community_sql().split(f"PERFORM {function}(", 1)[1].split(";")[0]))
    assert used == arguments
    row = conn.execute("SELECT proargnames FROM pg_proc WHERE proname = %s", (function,)).fetchone()
    assert row is not None and arguments <= set(row[0])
