"""Migrations, ingest and the command line, against the test session's real TimescaleDB."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from fxticker import cli
from fxticker.storage import observations
from fxticker.ticker import parse
from tests.pages import FIVE, text_page

FXTICKER = [sys.executable, "-m", "fxticker"]


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FXTICKER, *args], env=env, capture_output=True, text=True, timeout=120)


def write(path: Path, text: str, mtime: float | None = None) -> Path:
    path.write_text(text, encoding="utf-8")
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def rows(conn: psycopg.Connection) -> list[tuple[object, ...]]:
    return conn.execute(
        "SELECT rate_date, currency, rate::text, change_pct::text, direction, sightings"
        " FROM observation ORDER BY rate_date, currency, first_seen"
    ).fetchall()


def test_observation_is_a_hypertable_on_the_rate_date(conn: psycopg.Connection) -> None:
    row = conn.execute(
        "SELECT column_name FROM timescaledb_information.dimensions WHERE hypertable_name = 'observation'"
    ).fetchone()
    assert row == ("rate_date",)


def test_migrate_twice_applies_nothing_the_second_time(empty_db_url: str) -> None:
    with psycopg.connect(empty_db_url) as conn:
        first = observations.migrate(conn)
        second = observations.migrate(conn)
        recorded = conn.execute("SELECT name FROM schema_migration ORDER BY name").fetchall()
    assert first == [p.name for p in observations.migration_files()]
    assert second == []
    assert [name for (name,) in recorded] == first


def test_ingest_stores_one_row_per_currency(env: dict[str, str], tmp_path: Path,
                                            conn: psycopg.Connection) -> None:
    page = write(tmp_path / "p.txt", text_page())
    result = run(["ingest", str(page)], env)
    assert result.returncode == 0, result.stderr
    assert "1 page(s) read, 5 observation(s) new, 0 duplicate(s), 0 page(s) rejected" in result.stderr
    assert rows(conn) == [
        (dt.date(2025, 12, 19), "KGS", "0.01144", "0", "flat", 1),
        (dt.date(2025, 12, 19), "KZT", "0.00193", "0", "down", 1),
        (dt.date(2025, 12, 19), "TJS", "0.10851", "0.28", "up", 1),
        (dt.date(2025, 12, 19), "TMT", "0.28490", "0", "flat", 1),
        (dt.date(2025, 12, 19), "UZS", "0.00008", "0", "flat", 1),
    ]


def test_ingesting_the_same_page_again_stores_nothing_new(env: dict[str, str], tmp_path: Path,
                                                         conn: psycopg.Connection) -> None:
    page = write(tmp_path / "p.txt", text_page())
    run(["ingest", str(page)], env)
    before = conn.execute("SELECT * FROM observation ORDER BY currency").fetchall()
    again = run(["ingest", str(page)], env)
    assert again.returncode == 0
    assert "0 observation(s) new, 5 duplicate(s)" in again.stderr
    assert conn.execute("SELECT * FROM observation ORDER BY currency").fetchall() == before


def test_a_later_capture_of_the_same_quotes_widens_provenance(env: dict[str, str], tmp_path: Path,
                                                             conn: psycopg.Connection) -> None:
    write(tmp_path / "a.txt", text_page(), mtime=1_765_000_000)
    write(tmp_path / "b.txt", text_page(), mtime=1_765_003_600)
    assert run(["ingest", str(tmp_path)], env).returncode == 0
    first_source, last_source, sightings = conn.execute(
        "SELECT first_source, last_source, sightings FROM observation WHERE currency = 'KZT'"
    ).fetchone() or (None, None, None)
    assert (Path(str(first_source)).name, Path(str(last_source)).name, sightings) == ("a.txt", "b.txt", 2)


def test_changed_ticker_on_the_same_day_is_kept_as_a_revision(env: dict[str, str], tmp_path: Path,
                                                             conn: psycopg.Connection) -> None:
    later = [(c, "0.10866" if c == "TJS" else r, "-0.18" if c == "TJS" else ch) for c, r, ch in FIVE]
    write(tmp_path / "morning.txt", text_page(), mtime=1_765_000_000)
    write(tmp_path / "evening.txt", text_page(later), mtime=1_765_030_000)
    result = run(["ingest", str(tmp_path)], env)
    assert "6 observation(s) new, 4 duplicate(s)" in result.stderr
    tjs = conn.execute(
        "SELECT rate::text, revisions, revision_rank FROM observation_detail"
        " WHERE currency = 'TJS' ORDER BY revision_rank"
    ).fetchall()
    assert tjs == [("0.10866", 2, 1), ("0.10851", 2, 2)]
    latest = conn.execute("SELECT rate::text FROM daily_rate WHERE currency = 'TJS'").fetchone()
    assert latest == ("0.10866",)


def test_page_without_date_line_needs_date(env: dict[str, str], tmp_path: Path,
                                           conn: psycopg.Connection) -> None:
    page = write(tmp_path / "undated.txt", text_page(date=None))
    refused = run(["ingest", str(page)], env)
    assert refused.returncode == 1
    assert f"rejected {page}: the page has no date line; give its date with --date" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert rows(conn) == []
    accepted = run(["ingest", "--date", "2025-12-01", str(page)], env)
    assert accepted.returncode == 0, accepted.stderr
    assert {r[0] for r in rows(conn)} == {dt.date(2025, 12, 1)}


def test_date_line_wins_over_date_option(env: dict[str, str], tmp_path: Path,
                                         conn: psycopg.Connection) -> None:
    page = write(tmp_path / "dated.txt", text_page())
    assert run(["ingest", "--date", "2025-12-01", str(page)], env).returncode == 0
    assert {r[0] for r in rows(conn)} == {dt.date(2025, 12, 19)}


def test_future_date_option_is_rejected(env: dict[str, str], tmp_path: Path,
                                        conn: psycopg.Connection) -> None:
    page = write(tmp_path / "undated.txt", text_page(date=None))
    result = run(["ingest", "--date", "2999-01-01", str(page)], env)
    assert result.returncode == 1
    assert "in the future" in result.stderr
    assert rows(conn) == []


def test_malformed_date_option_is_a_usage_error(env: dict[str, str], tmp_path: Path) -> None:
    result = run(["ingest", "--date", "19/12/2025", str(tmp_path)], env)
    assert result.returncode == 2
    assert "'19/12/2025' is not a date of the form YYYY-MM-DD" in result.stderr


def test_a_date_option_older_than_any_ticker_is_refused(env: dict[str, str], tmp_path: Path,
                                                         conn: psycopg.Connection) -> None:
    page = write(tmp_path / "p.txt", text_page(date=None))
    result = run(["ingest", "--date", "1900-01-02", str(page)], env)
    assert result.returncode == 2
    assert "'1900-01-02' is before 2000-01-01, older than any ticker" in result.stderr
    assert "Traceback" not in result.stderr
    assert rows(conn) == []


def test_bad_pages_are_rejected_with_reasons_and_good_ones_still_stored(
    env: dict[str, str], tmp_path: Path, conn: psycopg.Connection
) -> None:
    folder = tmp_path / "pages"
    (folder / "nested").mkdir(parents=True)
    write(folder / "good.txt", text_page())
    write(folder / "nested" / "no-ticker.txt", "Nothing to see\n")
    write(folder / "nested" / "zero.txt", text_page([("KGS", "0.00000", "0")]))
    result = run(["ingest", str(folder)], env)
    assert result.returncode == 1
    assert "3 page(s) read, 5 observation(s) new, 0 duplicate(s), 2 page(s) rejected" in result.stderr
    assert "no-ticker.txt: no ticker found" in result.stderr
    assert "zero.txt: KGS/USD: zero rate 0.00000" in result.stderr
    assert len(rows(conn)) == 5


def test_a_page_is_stored_whole_or_not_at_all(db_url: str, tmp_path: Path,
                                              conn: psycopg.Connection) -> None:
    # A constraint the parser does not know of makes the fourth insert fail: nothing of the page stays.
    conn.execute("ALTER TABLE observation ADD CONSTRAINT no_uzs CHECK (currency <> 'UZS')")
    page = parse(text_page(), today=dt.date(2026, 1, 1))
    with (
        psycopg.connect(db_url, autocommit=True) as writer,
        pytest.raises(psycopg.errors.CheckViolation),
        writer.transaction(),
    ):
        observations.save_quotes(writer, page.quotes, rate_date=dt.date(2025, 12, 19), source="x",
                          content_hash="h", seen_at=dt.datetime.now(dt.UTC))
    assert rows(conn) == []


def test_missing_file_is_reported_by_name(env: dict[str, str], tmp_path: Path) -> None:
    result = run(["ingest", str(tmp_path / "nope.txt")], env)
    assert result.returncode == 1
    assert f"rejected {tmp_path / 'nope.txt'}: No such file or directory" in result.stderr


def test_parse_prints_json_lines(tmp_path: Path) -> None:
    page = write(tmp_path / "p.txt", text_page())
    result = CliRunner().invoke(cli.main, ["parse", str(page)])
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[1] == {
        "source": str(page), "date": "2025-12-19", "currency": "KZT", "rate": "0.00193",
        "change_pct": "-0", "direction": "down", "rate_low": "0.001925", "rate_high": "0.001935",
    }


def test_parse_reports_each_bad_input_on_stderr_and_exits_1(tmp_path: Path) -> None:
    good = write(tmp_path / "good.txt", text_page(date=None))
    bad = write(tmp_path / "bad.txt", "no ticker here")
    result = subprocess.run([*FXTICKER, "parse", str(good), str(bad)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    reason = "no ticker found (no line of the form 'CCC/USD = <rate> <change>%')"
    assert result.stderr.strip() == f"{bad}: {reason}"
    assert [json.loads(line)["date"] for line in result.stdout.splitlines()] == [None] * 5


def test_unreachable_database_is_one_clear_line(tmp_path: Path) -> None:
    env = dict(os.environ, DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
    page = write(tmp_path / "p.txt", text_page())
    result = run(["ingest", str(page)], env)
    assert result.returncode == 1
    assert result.stderr.startswith("fxticker: cannot reach the database:")
    assert "Traceback" not in result.stderr


def test_save_quotes_counts_a_repeated_quote_once_as_new_then_as_duplicate(
    db_url: str, conn: psycopg.Connection
) -> None:
    # One statement stores a page's quotes; a quote given twice must not make it touch a row twice.
    quotes = parse(text_page(), today=dt.date(2026, 1, 1)).quotes
    seen = dt.datetime(2025, 12, 19, 9, tzinfo=dt.UTC)
    with psycopg.connect(db_url, autocommit=True) as writer, writer.transaction():
        first = observations.save_quotes(writer, [*quotes, quotes[1]], rate_date=dt.date(2025, 12, 19),
                                  source="a", content_hash="h", seen_at=seen)
        again = observations.save_quotes(writer, quotes, rate_date=dt.date(2025, 12, 19), source="b",
                                  content_hash="h", seen_at=seen + dt.timedelta(hours=1))
        empty = observations.save_quotes(writer, [], rate_date=dt.date(2025, 12, 19), source="c",
                                  content_hash="h", seen_at=seen)
    result = observations.SaveResult
    assert (first, again, empty) == (result(5, 1), result(0, 5), result(0, 0))
    assert [(c, s) for (_d, c, _r, _ch, _dir, s) in rows(conn)] == [
        ("KGS", 2), ("KZT", 2), ("TJS", 2), ("TMT", 2), ("UZS", 2)
    ]


def test_a_database_error_stops_the_run_with_the_pages_before_it_stored_whole(
    env: dict[str, str], tmp_path: Path, conn: psycopg.Connection
) -> None:
    # The ingest's commits do not wait for the disk: a page the database refuses must still leave
    # every page before it stored and nothing of itself.
    conn.execute("ALTER TABLE observation ADD CONSTRAINT no_third CHECK (rate_date <> '2025-11-03')")
    for day in range(1, 26):
        write(tmp_path / f"p{day:02d}.txt", text_page(date=f"{day} November 2025"))
    result = run(["ingest", str(tmp_path)], env)
    assert result.returncode == 1
    assert "database error" in result.stderr and "no_third" in result.stderr
    assert {r[0] for r in rows(conn)} == {dt.date(2025, 11, 1), dt.date(2025, 11, 2)}
    assert len(rows(conn)) == 10


def test_the_sample_takes_each_revised_days_later_page_as_its_rate(env: dict[str, str],
                                                                    conn: psycopg.Connection) -> None:
    result = run(["sample"], env)
    assert result.returncode == 0, result.stderr
    folder = Path(str(resources.files("fxticker") / "samples"))
    revised = sorted(folder.glob("sample-*b.txt"))
    assert len(revised) >= 10
    for page in revised:
        day = dt.date.fromisoformat(page.name.removeprefix("sample-")[:10])
        later = {q.currency: q.rate_text for q in parse(page.read_bytes(), today=dt.date.today()).quotes}
        shown = dict(conn.execute(
            "SELECT currency, rate::text FROM daily_rate WHERE rate_date = %s", (day,)).fetchall())
        assert shown == later, page.name
    noon = conn.execute(
        "SELECT first_seen FROM observation WHERE first_source LIKE %s LIMIT 1", ("%sample-2025-08-01a.txt",)
    ).fetchone()
    assert noon == (dt.datetime(2025, 8, 1, 12, tzinfo=dt.UTC),)
