"""The vocabulary in SQL and on every surface (dashboard, CSV, API, command line): the answers the
Python rules give."""

from __future__ import annotations

import csv
import io
import random
from decimal import Decimal
from pathlib import Path

import lxml.html
import psycopg
import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fxticker import vocab
from fxticker.cli import main
from fxticker.collect.ingest import ingest_many
from tests.pages import table_rows, with_quote, write_page
from tests.strategies import RATES


def in_sql(conn: psycopg.Connection, rates: list[Decimal]) -> list[tuple[str, ...]]:
    rows = conn.execute(
        f"""SELECT {vocab.sql_units_per_usd('r')}, {', '.join(vocab.sql_bounds('r'))}
            FROM unnest(%s::numeric[]) WITH ORDINALITY AS t(r, i) ORDER BY i""",
        [rates],
    ).fetchall()
    return [tuple(row) for row in rows]


def test_sql_and_python_give_the_same_bounds_on_edge_cases(conn: psycopg.Connection) -> None:
    rates = [Decimal(r) for r in EDGES]
    rng = random.Random(15)
    rates += [Decimal(rng.randrange(1, 10**7)).scaleb(-rng.randrange(0, 9)) for _ in range(3000)]
    assert in_sql(conn, rates) == in_python(rates)


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(st.lists(RATES, min_size=1, max_size=200))
def test_sql_and_python_give_the_same_bounds(conn: psycopg.Connection, rates: list[Decimal]) -> None:
    assert in_sql(conn, rates) == in_python(rates)


def test_view_bounds_agree_with_the_vocabulary(conn: psycopg.Connection, env: dict[str, str],
                                               tmp_path: Path) -> None:
    ingest_many([write_page(tmp_path, "a.txt", "9 December 2025")], None)
    rows = conn.execute("SELECT rate, rate_low::text, rate_high::text FROM observation_detail").fetchall()
    assert len(rows) == 5
    for rate, low, high in rows:
        assert (low, high) == vocab.bounds(rate).texts()[:2]


@pytest.fixture
def one_day(env: dict[str, str], tmp_path: Path) -> None:
    ingest_many([write_page(tmp_path, "a.txt", "9 December 2025", with_quote("KZT", "0.00193", "-0"))],
                None)


def csv_rows(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def test_every_surface_gives_the_same_bounds_and_signs(client: FlaskClient, one_day: None) -> None:
    per_usd = {r["currency"]: r for r in csv_rows(client.get("/export.csv?direction=per_usd").get_data())}
    usd = {r["currency"]: r for r in csv_rows(client.get("/export.csv").get_data())}
    api = {r["currency"]: r for r in client.get("/api/observations").json or []}
    api_csv = {r["currency"]: r for r in csv_rows(client.get("/api/observations.csv").get_data())}
    table = table_rows(client.get("/").text)
    assert set(per_usd) == set(api) == set(api_csv) == set(table) == set(vocab.CURRENCIES)
    for code, row in api.items():
        expected = vocab.bounds(Decimal(row["rate"])).texts()
        assert (row["usd_per_unit_low"], row["usd_per_unit_high"],
                row["units_per_usd_low"], row["units_per_usd_high"]) == expected
        assert {k: api_csv[code][k] for k in ("usd_per_unit_low", "usd_per_unit_high", "units_per_usd_low",
                                              "units_per_usd_high", "change_pct")} == {
            k: row[k] for k in ("usd_per_unit_low", "usd_per_unit_high", "units_per_usd_low",
                                "units_per_usd_high", "change_pct")}
        assert (usd[code]["usd_per_unit_low"], usd[code]["usd_per_unit_high"]) == expected[:2]
        assert (per_usd[code]["units_per_usd_low"], per_usd[code]["units_per_usd_high"]) == expected[2:]
        assert per_usd[code]["change_pct"] == usd[code]["change_pct"] == row["change_pct"]
        assert table[code][2] == f"{expected[2]}..{expected[3]}"
        assert table[code][3].endswith(f" {row['change_pct']}%")
    assert api["KZT"]["change_pct"] == "-0" and api["KZT"]["direction"] == "down"


def test_every_surface_gives_the_same_names(client: FlaskClient, one_day: None) -> None:
    v1 = client.get("/v1/currencies").json or {}
    v2 = {c["iso_code"]: c["name"] for c in client.get("/v2/currencies").json or []}
    tree = lxml.html.fromstring(client.get("/").text)
    options = {i.get("value"): " ".join(i.getparent().text_content().split())
               for i in tree.xpath('//input[@name="currencies"]')}
    # The Frankfurter-compatible APIs name currencies as Frankfurter does; the dashboard in its own words.
    for code, (name, _symbol) in vocab.CURRENCIES.items():
        assert v1[code] == v2[code] == vocab.FRANKFURTER_NAMES[code]
        assert name in options[code]
    assert v1["KGS"] == "Kyrgyzstani Som" and v1["USD"] == v2["USD"] == "United States Dollar"
    assert "Kyrgyz som" in options["KGS"]


@pytest.mark.parametrize("command", [["ingest", "--date", "20251201", "x.txt"],
                                     ["parse", "--date", "20251201", "x.txt"],
                                     ["export", "--from", "20251201"], ["export", "--to", "2025-W49-1"]])
def test_the_cli_takes_only_yyyy_mm_dd(env: dict[str, str], command: list[str]) -> None:
    result = CliRunner().invoke(main, command)
    assert result.exit_code != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "YYYY-MM-DD" in lines[-1]
    assert "Traceback" not in result.stderr


def test_the_export_takes_only_yyyy_mm_dd(client: FlaskClient) -> None:
    response = client.get("/export.csv?from=20251201")
    assert response.status_code == 422
    assert response.json == {"status": 422, "message": "'from' must be a date of the form YYYY-MM-DD"}


EDGES = [
    "0.00008", "0.00193", "0.01144", "0.10851", "0.28490", "1", "10", "100", "0.001", "0.0001",
    # 1/0.04096 = 24.4140625 exactly: a tie at the ninth significant digit.
    "0.04096", "0.00001", "999999999999", "0.000000000001", "0.000000999999", "3", "0.7", "12.5",
]


def in_python(rates: list[Decimal]) -> list[tuple[str, ...]]:
    return [(vocab.decimal_text(vocab.units_per_usd(r)), *vocab.bounds(r).texts()) for r in rates]
