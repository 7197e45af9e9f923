"""CSV export: GET /export.csv and `fxticker export`, their bytes, pandas round trips and memory."""

from __future__ import annotations

import csv
import io
import tracemalloc
from decimal import Decimal
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from fxticker.cli import main
from fxticker.collect.ingest import ingest_many
from fxticker.web import create_app
from fxticker.web import pool as web_db
from tests.pages import text_page, with_quote, write_page


@pytest.fixture
def two_days(env: dict[str, str], tmp_path: Path) -> list[str]:
    """Five currencies on two days; on the second, KZT was revised during the day."""
    pages = [
        write_page(tmp_path, "a.txt", "9 December 2025", mtime=1_765_200_000),
        write_page(tmp_path, "b.txt", "10 December 2025", with_quote("KZT", "0.00194", "0.52"),
                   1_765_300_000),
        write_page(tmp_path, "c.txt", "10 December 2025", with_quote("KZT", "0.00195", "1.04"),
                   1_765_340_000),
    ]
    ingest_many(pages, None)
    return pages


def get_csv(client: FlaskClient, query: str) -> tuple[bytes, dict[str, str]]:
    with client.get(f"/export.csv?{query}") as response:
        assert response.status_code == 200, response.get_data()
        return response.get_data(), dict(response.headers)


def test_daily_export_headers_and_rows(client: FlaskClient, two_days: list[str]) -> None:
    body, headers = get_csv(client, "currencies=kzt,UZS&from=2025-12-01&to=2025-12-31")
    assert headers["Content-Type"] == "text/csv; charset=utf-8"
    assert headers["Content-Disposition"] == (
        'attachment; filename="fxticker_KZT-UZS_2025-12-01_2025-12-31_daily_usd-per-unit.csv"'
    )
    lines = body.decode("utf-8").split("\r\n")
    assert lines[0] == ("date,currency,usd_per_unit,usd_per_unit_low,usd_per_unit_high,change_pct,direction,"
                        "revisions,last_seen,source,official_per_usd,official_provider,official_date,"
                        "deviation_pct,check")
    rows = list(csv.reader(lines[1:-1]))
    assert [r[:8] for r in rows] == [
        ["2025-12-09", "KZT", "0.00193", "0.001925", "0.001935", "-0", "down", "1"],
        ["2025-12-09", "UZS", "0.00008", "0.000075", "0.000085", "0", "flat", "1"],
        ["2025-12-10", "KZT", "0.00195", "0.001945", "0.001955", "1.04", "up", "2"],
        ["2025-12-10", "UZS", "0.00008", "0.000075", "0.000085", "0", "flat", "1"],  # seen twice, same quote
    ]
    assert rows[2][8] == "2025-12-10T04:13:20+00:00" and rows[2][9] == two_days[2]
    assert lines[-1] == ""


def test_raw_export_has_every_revision(client: FlaskClient, two_days: list[str]) -> None:
    body, headers = get_csv(client, "currencies=KZT&resolution=raw")
    assert headers["Content-Disposition"].endswith(
        'filename="fxticker_KZT_earliest_latest_raw_usd-per-unit.csv"')
    frame = pd.read_csv(io.BytesIO(body), dtype=str)
    assert list(frame.columns) == [
        "date", "currency", "usd_per_unit", "usd_per_unit_low", "usd_per_unit_high", "change_pct",
        "direction", "revision", "revisions", "sightings", "first_seen", "last_seen",
        "first_source", "source", "official_per_usd", "official_provider", "official_date",
        "deviation_pct", "check",
    ]
    assert frame[["date", "usd_per_unit", "revision", "source"]].values.tolist() == [
        ["2025-12-09", "0.00193", "1", two_days[0]],
        ["2025-12-10", "0.00195", "1", two_days[2]],
        ["2025-12-10", "0.00194", "2", two_days[1]],
    ]


def test_per_usd_direction_inverts_and_swaps_bounds(client: FlaskClient, two_days: list[str]) -> None:
    body, headers = get_csv(client, "currencies=UZS,KZT&direction=per_usd&to=2025-12-09")
    assert "_per_usd" not in headers["Content-Disposition"]
    assert headers["Content-Disposition"].endswith('_daily_units-per-usd.csv"')
    frame = pd.read_csv(io.BytesIO(body), dtype=str)
    assert frame.columns[2:5].tolist() == ["units_per_usd", "units_per_usd_low", "units_per_usd_high"]
    assert frame.iloc[:, 1:5].values.tolist() == [
        ["KZT", "518.13472", "516.79586", "519.48052"],
        ["UZS", "12500", "11764.705", "13333.334"],
    ]


def test_pandas_round_trip_is_exact(
    client: FlaskClient, conn: psycopg.Connection, two_days: list[str]
) -> None:
    body, _ = get_csv(client, "resolution=raw&bom=1")
    assert body.startswith(b"\xef\xbb\xbf")
    exact = {c: Decimal for c in ("usd_per_unit", "usd_per_unit_low", "usd_per_unit_high")}
    frame = pd.read_csv(io.BytesIO(body), encoding="utf-8-sig", converters=exact,
                        parse_dates=["date", "first_seen", "last_seen"])
    stored = conn.execute("""
        SELECT rate_date, currency, rate, rate_low, rate_high, change_pct, revision_rank, revisions,
               sightings, first_seen, last_seen, first_source, last_source
        FROM observation_detail ORDER BY rate_date, currency, revision_rank
    """).fetchall()
    assert len(frame) == len(stored) == 11
    for (_, row), db_row in zip(frame.iterrows(), stored, strict=True):
        date, currency, rate, low, high, change, rank, revisions, sightings, first, last, fsrc, src = db_row
        assert row["date"].date() == date and row["currency"] == currency
        # Decimal equality with the same text: exact value and exact quoted scale.
        assert (str(row["usd_per_unit"]), row["usd_per_unit_low"], row["usd_per_unit_high"]) == (
            str(rate), low, high)
        assert row["change_pct"] == float(change)
        assert (row["revision"], row["revisions"], row["sightings"]) == (rank, revisions, sightings)
        assert row["first_seen"].to_pydatetime() == first and row["last_seen"].to_pydatetime() == last
        assert (row["first_source"], row["source"]) == (fsrc, src)
    floats = pd.read_csv(io.BytesIO(body), encoding="utf-8-sig")
    assert floats["usd_per_unit"].tolist() == [float(r[2]) for r in stored]


def test_cells_that_look_like_formulas_are_neutralised(
    client: FlaskClient, env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name, date in (("=HYPERLINK(1).txt", "8 December 2025"), ("@SUM(1).txt", "9 December 2025"),
                       ("+1+1.txt", "10 December 2025"), ("-2.txt", "11 December 2025")):
        (tmp_path / name).write_text(text_page(date=date))
        ingest_many([name], None)
    body, _ = get_csv(client, "currencies=KZT")
    rows = list(csv.reader(io.StringIO(body.decode())))
    source = rows[0].index("source")
    assert [r[source] for r in rows[1:]] == ["'=HYPERLINK(1).txt", "'@SUM(1).txt", "'+1+1.txt", "'-2.txt"]
    assert {r[5] for r in rows[1:]} == {"-0"}  # a negative number stays a number


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2025-13-01", "'from' must be a date of the form YYYY-MM-DD"),
        ("to=yesterday", "'to' must be a date of the form YYYY-MM-DD"),
        ("from=2025-12-02&to=2025-12-01", "'from' is after 'to'"),
        ("currencies=KZT,=cmd", "'currencies' takes three-letter codes such as KZT, separated by commas"),
        ("resolution=hourly", "'resolution' must be 'raw' or 'daily'"),
        ("direction=up", "'direction' must be 'usd_per_unit' or 'per_usd'"),
        ("bom=yes", "'bom' must be '0' or '1'"),
        ("format=xlsx", "unknown parameter: 'format'"),
        ("from=20251201", "'from' must be a date of the form YYYY-MM-DD"),
        ("from=2025-12-01&from=2025-12-02", "'from' is given more than once"),
        ("currencies=XXX", "'currencies': unknown currency XXX; known: USD, KGS, KZT, TJS, TMT, UZS"),
        ("currencies=KZT&currencies=XXX", "'currencies': unknown currency XXX; known: USD, KGS, KZT, TJS, "
                                          "TMT, UZS"),
        ("currencies=", "'currencies' is empty; leave it out for the default"),
        ("to=", "'to' is empty; leave it out for the default"),
        ("%3Cscript%3E=1", r"unknown parameter: '\x3cscript\x3e'"),
        ("KZT%E2%80%AE=1", r"unknown parameter: 'KZT\u202e'"),
        ("a%00b=1", r"unknown parameter: 'a\x00b'"),
    ],
)
def test_bad_parameters_are_422(client: FlaskClient, two_days: list[str], query: str, message: str) -> None:
    response = client.get(f"/export.csv?{query}")
    assert response.status_code == 422
    assert response.json == {"status": 422, "message": message}


@pytest.mark.slow
def test_unreachable_database_is_503_before_streaming() -> None:
    app = create_app({"TESTING": True, "DATABASE_READ_URL": "postgresql://x@127.0.0.1:1/none"})
    try:
        response = app.test_client().get("/export.csv")
    finally:
        web_db.close(app)
    assert response.status_code == 503
    assert response.json == {"status": 503, "message": "the database is unavailable; try again shortly"}


def test_a_pooled_connection_broken_by_a_restart_is_replaced_before_the_export_uses_it(
        client: FlaskClient, two_days: list[str], db_url: str) -> None:
    with client.get("/export.csv") as first:
        # Read and closed: the connection went back to the pool, which now holds it idle.
        assert first.status_code == 200 and first.get_data()
    with psycopg.connect(db_url, autocommit=True) as admin:
        # What a database restart does to every connection the pool keeps.
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                      " WHERE datname = current_database() AND pid <> pg_backend_pid()")
    body, _ = get_csv(client, "")
    assert body.count(b"\r\n") == 1 + 10


def test_a_small_export_is_whole_even_if_the_database_goes_away_once_it_started(
        client: FlaskClient, two_days: list[str], db_url: str) -> None:
    expected, _ = get_csv(client, "resolution=raw")
    response = client.get("/export.csv?resolution=raw", buffered=False)
    assert response.status_code == 200
    with psycopg.connect(db_url, autocommit=True) as admin:
        # A restart now, between the response's start and its body being read.
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                      " WHERE datname = current_database() AND pid <> pg_backend_pid()")
    body = b"".join(response.response)
    response.close()  # ends the export's transaction on a dead connection: logged, not raised
    assert body == expected


def test_cli_export_matches_the_web_export(client: FlaskClient, two_days: list[str], tmp_path: Path) -> None:
    web, _ = get_csv(client, "currencies=KZT,TJS&resolution=raw&direction=per_usd&bom=1")
    runner = CliRunner()
    args = ["export", "--currencies", "KZT,TJS", "--resolution", "raw", "--direction", "per_usd", "--bom"]
    to_stdout = runner.invoke(main, args)
    assert to_stdout.exit_code == 0, to_stdout.output
    assert to_stdout.stdout_bytes == web
    target = tmp_path / "out.csv"
    to_file = runner.invoke(main, [*args, "-o", str(target)])
    assert to_file.exit_code == 0 and to_file.stderr == f"wrote {target}\n"
    assert target.read_bytes() == web


def test_cli_export_rejects_bad_input_with_one_line(env: dict[str, str], client: FlaskClient,
                                                    tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["export", "--from", "2025-02-30"])
    assert result.exit_code == 1
    assert result.stderr == "fxticker: 'from' must be a date of the form YYYY-MM-DD\n"
    for args, message in ((["--from", "20251201"], "'from' must be a date of the form YYYY-MM-DD"),
                          # Nothing stored yet: the same answer as the web's 404, not an unknown code.
                          (["--currencies", "XXX"], "no rates are stored yet"),
                          (["--currencies", ""], "'currencies' takes three-letter codes such as KZT, "
                                                 "separated by commas")):
        result = CliRunner().invoke(main, ["export", *args])
        assert (result.exit_code, result.stderr) == (1, f"fxticker: {message}\n")
    web = client.get("/export.csv?currencies=XXX")
    assert (web.status_code, web.json) == (404, {"status": 404, "message": "no rates are stored yet"})
    result = CliRunner().invoke(main, ["export", "-o", str(tmp_path / "missing" / "x.csv")])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"fxticker: cannot write {tmp_path / 'missing' / 'x.csv'}: ")


def test_export_streams_in_constant_memory(client: FlaskClient, conn: psycopg.Connection) -> None:
    conn.execute("""
        INSERT INTO observation (rate_date, currency, rate, change_pct, direction, first_seen, last_seen,
                                 first_source, last_source, first_hash, last_hash)
        SELECT d::date, c.code, c.base + r * 0.00001, 0.1, 'up', d, d + r * interval '1 minute',
               'generated/source/with/a/longish/path.html', 'generated/source/with/a/longish/path.html',
               'h', 'h'
        FROM generate_series('2015-01-01'::timestamptz, '2019-12-31', interval '1 day') AS d,
             (VALUES ('KGS', 0.01144), ('KZT', 0.00193), ('TJS', 0.10851), ('UZS', 0.00008),
                     ('TMT', 0.28490)) AS c(code, base),
             generate_series(1, 2) AS r
    """)
    small_size, small_rows, small_peak = streamed(client, "/export.csv?resolution=raw&to=2016-12-31")
    size, rows, peak = streamed(client, "/export.csv?resolution=raw")
    assert (small_rows, rows) == (7_310 + 1, 18_260 + 1)
    assert size > 3_000_000 and size > 2.4 * small_size
    # Both exports span more batches of BATCH_ROWS than the two read before the response starts
    # (web/stream.py): two and a half times the rows, the same memory.
    assert peak < 1.1 * small_peak, (small_peak, peak)


def streamed(client: FlaskClient, url: str) -> tuple[int, int, int]:
    """Bytes and lines of a streamed response, and the peak of Python memory while reading it."""
    tracemalloc.start()
    try:
        response = client.get(url, buffered=False)
        size = rows = 0
        for chunk in response.response:
            size += len(chunk)
            rows += chunk.count(b"\n")
        response.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return size, rows, peak
