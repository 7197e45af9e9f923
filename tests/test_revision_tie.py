"""Two revisions of a day seen at the same instant: the later-ingested capture wins (sql/007).

Files from one checkout share an mtime, so their captures tie on last_seen. The daily view, the
observation ranking, the API and the continuous aggregate's query must all pick the revision ingested
last, whichever ingest path stored it (a batch of pages, separate runs, page by page).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from pathlib import Path

import psycopg
import pytest
from flask.testing import FlaskClient

from fxticker.collect.ingest import ingest_many
from fxticker.storage import observations as store
from fxticker.ticker import parse
from tests.pages import FIVE, text_page

MIGRATION = Path(__file__).resolve().parent.parent / "sql" / "007_revision_tie_break.sql"
DAY = dt.date(2025, 12, 19)
MTIME = 1_766_100_000  # one checkout: every file has this mtime


def kzt(rate: str) -> list[tuple[str, str, str]]:
    return [(c, rate if c == "KZT" else r, ch) for c, r, ch in FIVE]


def pages(folder: Path) -> dict[str, Path]:
    """Two revisions of 19 December, KZT 0.00193 and 0.00195, with the same mtime."""
    found = {}
    for rate in ("0.00193", "0.00195"):
        path = folder / f"kzt-{rate}.txt"
        path.write_text(text_page(kzt(rate)))
        os.utime(path, (MTIME, MTIME))
        found[rate] = path
    return found


def winners(conn: psycopg.Connection) -> dict[str, str]:
    """KZT's rate of the day in each place that picks one."""
    day = {"day": DAY}
    queries = {
        "daily_rate": "SELECT rate::text FROM daily_rate WHERE currency = 'KZT' AND rate_date = %(day)s",
        "daily_series": "SELECT rate::text FROM daily_series WHERE currency = 'KZT' AND rate_date = %(day)s",
        "observation_detail": "SELECT rate::text FROM observation_detail"
                              " WHERE currency = 'KZT' AND rate_date = %(day)s AND revision_rank = 1",
        "community_aggregate": community_query(),
    }
    found = {}
    for name, query in queries.items():
        rows = conn.execute(query.encode() if name == "community_aggregate" else query, day).fetchall()
        assert len(rows) == 1, (name, rows)
        found[name] = rows[0][0]
    return found


def community_query() -> str:
    """The continuous aggregate's SELECT from sql/007, run as a plain query (this server is Apache-only)."""
    text = MIGRATION.read_text()
    block = re.search(r"-- community:begin\n(.*?)\n\s*-- community:end", text, re.DOTALL)
    assert block
    aggregate = re.search(r"(SELECT time_bucket.*?GROUP BY 1, 2)", block[1], re.DOTALL)
    assert aggregate
    return (f"SELECT rate::text FROM ({aggregate[1]}) a"
            " WHERE currency = 'KZT' AND rate_date = %(day)s")


def assert_everywhere(conn: psycopg.Connection, rate: str) -> None:
    assert set(winners(conn).values()) == {rate}, winners(conn)


@pytest.mark.parametrize("order", [["0.00193", "0.00195"], ["0.00195", "0.00193"]])
def test_in_one_run_the_later_page_wins(order: list[str], env: dict[str, str], tmp_path: Path,
                                        conn: psycopg.Connection) -> None:
    files = pages(tmp_path)
    # One batch, pages in the order given (ingest_many keeps the order of its arguments).
    assert not ingest_many([str(files[rate]) for rate in order], None).rejected
    assert_everywhere(conn, order[-1])


@pytest.mark.parametrize("order", [["0.00193", "0.00195"], ["0.00195", "0.00193"]])
def test_across_runs_the_later_run_wins_and_a_reread_changes_nothing(
        order: list[str], env: dict[str, str], tmp_path: Path, conn: psycopg.Connection) -> None:
    files = pages(tmp_path)
    for rate in order:
        assert not ingest_many([str(files[rate])], None).rejected
    assert_everywhere(conn, order[-1])
    # Reading the first capture again: seen no later than before, so it keeps its place.
    assert not ingest_many([str(files[order[0]])], None).rejected
    assert_everywhere(conn, order[-1])


def test_page_by_page_the_later_page_wins(conn: psycopg.Connection) -> None:
    seen = dt.datetime.fromtimestamp(MTIME, dt.UTC)
    for rate in ("0.00195", "0.00193"):
        quotes = parse(text_page(kzt(rate)).encode(), today=DAY).quotes
        with conn.transaction():
            store.save_quotes(conn, quotes, rate_date=DAY, source=rate, content_hash=rate, seen_at=seen)
    assert_everywhere(conn, "0.00193")


def test_a_later_sighting_of_the_older_revision_moves_it_ahead(env: dict[str, str], tmp_path: Path,
                                                                conn: psycopg.Connection) -> None:
    files = pages(tmp_path)
    assert not ingest_many([str(files["0.00193"]), str(files["0.00195"])], None).rejected
    again = tmp_path / "again" / "kzt-0.00193.txt"
    again.parent.mkdir()
    shutil.copy(files["0.00193"], again)
    os.utime(again, (MTIME, MTIME))  # the same instant once more: a tie, and it was ingested last
    assert not ingest_many([str(again)], None).rejected
    assert_everywhere(conn, "0.00195")  # seen no later: a re-read, not a new revision
    os.utime(again, (MTIME + 60, MTIME + 60))
    assert not ingest_many([str(again)], None).rejected
    assert_everywhere(conn, "0.00193")


@pytest.mark.parametrize("order", [["0.00193", "0.00195"], ["0.00195", "0.00193"]])
def test_the_api_shows_the_later_ingested_revision(order: list[str], env: dict[str, str], tmp_path: Path,
                                                   client: FlaskClient) -> None:
    files = pages(tmp_path)
    assert not ingest_many([str(files[rate]) for rate in order], None).rejected
    rows = client.get("/api/observations?currency=KZT&revisions=all").get_json()
    ranked = sorted((row["revision"], row["rate"]) for row in rows)
    assert ranked == [(1, order[1]), (2, order[0])]
    latest = client.get("/api/observations?currency=KZT").get_json()
    assert [row["rate"] for row in latest] == [order[1]]


def test_rows_stored_before_the_migration_are_numbered(empty_db_url: str, tmp_path: Path) -> None:
    before = tmp_path / "sql"
    before.mkdir()
    for path in store.migration_files():
        if path.name != MIGRATION.name:
            shutil.copy(path, before / path.name)
    seen = dt.datetime.fromtimestamp(MTIME, dt.UTC)
    with psycopg.connect(empty_db_url) as conn:
        store.migrate(conn, before)
        for rate, offset in (("0.00193", 0), ("0.00195", 60)):
            quotes = parse(text_page(kzt(rate)).encode(), today=DAY).quotes
            with conn.transaction():
                store.save_quotes(conn, quotes, rate_date=DAY, source=rate, content_hash=rate,
                                  seen_at=seen + dt.timedelta(seconds=offset))
        assert store.migrate(conn) == [MIGRATION.name]
        numbered = conn.execute(
            "SELECT count(*), count(ingest_seq), count(DISTINCT ingest_seq) FROM observation").fetchone()
        assert numbered == (6, 6, 6)
        assert_everywhere(conn, "0.00195")
        # New rows continue the numbering.
        with conn.transaction():
            quotes = parse(text_page(kzt("0.00194")).encode(), today=DAY).quotes
            store.save_quotes(conn, quotes, rate_date=DAY, source="c", content_hash="c",
                              seen_at=seen + dt.timedelta(seconds=60))
        assert_everywhere(conn, "0.00194")


def test_the_community_branch_parses(conn: psycopg.Connection) -> None:
    """This server is Apache-only, so the branch that remakes the continuous aggregate never runs here:
    PL/pgSQL parses every statement of a block when it compiles it, also in a branch that never runs."""
    block = re.search(r"^DO \$\$\n.*?^\$\$;", MIGRATION.read_text(), re.DOTALL | re.MULTILINE)
    assert block and "-- community:begin" in block[0]
    condition = "IF current_setting('timescaledb.license') = 'timescale' THEN"
    assert condition in block[0]
    never = block[0].replace(condition, "IF false THEN")
    conn.execute(never.encode())
    with pytest.raises(psycopg.errors.SyntaxError):
        conn.execute(never.replace("GROUP BY 1, 2", "GROUP 1, 2").encode())
    policy = block[0].split("add_continuous_aggregate_policy(", 1)[1].split(";")[0]
    used = set(re.findall(r"(\w+) =>", policy))
    row = conn.execute("SELECT proargnames FROM pg_proc WHERE proname = 'add_continuous_aggregate_policy'"
                       ).fetchone()
    assert row is not None and used == {"start_offset", "end_offset", "schedule_interval"} <= set(row[0])
