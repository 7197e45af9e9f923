"""The API's queries on seven years of generated data: chunk exclusion, and no sequential scan."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from fxticker.storage import daily
from fxticker.storage import observations as store

# Every day from 2019 to 2025, five currencies, two revisions a day: 25,570 rows in 28 chunks.
GENERATE = """
INSERT INTO observation (rate_date, currency, rate, change_pct, direction, first_seen, last_seen,
                         first_source, last_source, first_hash, last_hash)
SELECT d::date, c.code, round(c.usd * (1 + 0.1 * sin(extract(epoch FROM d) / 8e6))::numeric, 5) + r.bump,
       0, 'flat', d + r.at, d + r.at, 'generated', 'generated', 'h', 'h'
FROM generate_series(%(start)s::timestamptz, %(end)s::timestamptz, interval '1 day') AS d
CROSS JOIN (VALUES ('KGS', 0.01144), ('KZT', 0.00193), ('TJS', 0.10851), ('UZS', 0.00008),
                   ('TMT', 0.28490)) AS c(code, usd)
CROSS JOIN (VALUES (0.00000, interval '6 hours'), (0.00001, interval '14 hours')) AS r(bump, at)
"""
START, END = dt.date(2019, 1, 1), dt.date(2025, 12, 31)
MONTH = {"start": dt.date(2024, 3, 1), "end": dt.date(2024, 3, 31)}

CHUNKS_OVERLAPPING = """
SELECT chunk_name FROM timescaledb_information.chunks
WHERE hypertable_name = 'observation' AND range_start::date <= %(end)s AND range_end::date > %(start)s
"""


@pytest.fixture(scope="module")
def years(module_db_url: str) -> Iterator[psycopg.Connection]:
    """One database of generated years shared by this module's tests, which only read it."""
    with psycopg.connect(module_db_url, autocommit=True) as conn:
        conn.execute(GENERATE, {"start": START, "end": END})
        conn.execute("ANALYZE observation")
        yield conn


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def explain(
    conn: psycopg.Connection, query: str | sql.Composable, args: dict[str, Any]
) -> list[dict[str, Any]]:
    body = sql.SQL(query) if isinstance(query, str) else query
    statement = sql.SQL("EXPLAIN (ANALYZE, FORMAT JSON) ") + body
    row = conn.execute(statement, args).fetchone()
    assert row is not None
    return list(nodes(row[0][0]["Plan"]))


def chunks_read(plan: list[dict[str, Any]]) -> set[str]:
    """Chunks whose scan actually ran (ChunkAppend skips the rest at run time: loops 0)."""
    return {n["Relation Name"] for n in plan
            if n.get("Relation Name", "").startswith("_hyper_") and n["Actual Loops"] > 0}


def assert_no_seq_scan(plan: list[dict[str, Any]]) -> None:
    seq = [n.get("Relation Name") for n in plan if n["Node Type"] == "Seq Scan"]
    assert seq == [], f"sequential scans on {seq}"


def test_generated_data_spans_many_chunks_and_the_checks_can_fail(years: psycopg.Connection) -> None:
    chunks = years.execute("SELECT count(*) FROM show_chunks('observation')").fetchone()
    assert chunks is not None and chunks[0] >= 28
    # A query without a usable index must trip the checks, or they prove nothing.
    unfiltered = explain(years, "SELECT count(*) FROM observation WHERE sightings = 2", {})
    with pytest.raises(AssertionError, match="sequential scans"):
        assert_no_seq_scan(unfiltered)
    assert len(chunks_read(unfiltered)) == chunks[0]


def test_a_months_daily_rates_read_only_that_months_chunks_by_index(years: psycopg.Connection) -> None:
    """The query behind /v2/rates and /v1 series (view daily_rate)."""
    expected = {r[0] for r in years.execute(CHUNKS_OVERLAPPING, MONTH)}
    plan = explain(years, daily._DAILY, {"currencies": ["KZT", "UZS"], **MONTH})
    assert chunks_read(plan) == expected and len(expected) <= 2
    scanned = {n["Relation Name"] for n in plan if n.get("Relation Name", "").startswith("_hyper_")}
    assert scanned == expected  # excluded at planning time, not merely skipped
    assert_no_seq_scan(plan)


def test_a_months_observations_read_only_that_months_chunks_by_index(years: psycopg.Connection) -> None:
    """The query behind /api/observations (view observation_detail, with its window functions)."""
    expected = {r[0] for r in years.execute(CHUNKS_OVERLAPPING, MONTH)}
    for revisions in ("revision_rank = 1", "true"):
        query = store._OBSERVATIONS.format(currency_filter=sql.SQL("currency = ANY(%(currencies)s)"),
                                           revision_filter=sql.SQL(revisions))
        plan = explain(years, query, {"currencies": ["TMT"], **MONTH})
        assert chunks_read(plan) == expected
        assert_no_seq_scan(plan)


def test_the_nearest_earlier_day_reads_backwards_from_that_day(years: psycopg.Connection) -> None:
    """The lookup behind snapshots (latest, one date) and a series' first day stops in the chunk
    holding the day."""
    plan = explain(years, daily._ON_OR_BEFORE, {"on": MONTH["end"]})
    read = chunks_read(plan)
    assert len(read) == 1 and read <= {r[0] for r in years.execute(CHUNKS_OVERLAPPING, MONTH)}
    assert_no_seq_scan(plan)
    assert daily.day_on_or_before(years, MONTH["end"]) == MONTH["end"]
    assert daily.day_on_or_before(years, START - dt.timedelta(days=1)) is None


def test_currency_list_and_span_use_indexes(years: psycopg.Connection) -> None:
    for query, args in ((daily._CURRENCIES, {}), (daily._SPAN, {}),
                        (daily._CURRENCY_SPANS, {"currencies": ["KZT", "UZS"]})):
        plan = explain(years, query, args)
        assert_no_seq_scan(plan)
        assert all(n["Node Type"] in {"Index Only Scan", "Index Scan"}
                   for n in plan if n.get("Relation Name", "").startswith("_hyper_"))
    assert daily.stored_currencies(years) == ["KGS", "KZT", "TJS", "TMT", "UZS"]
    assert daily.span(years) == (START, END)
    assert daily.currency_spans(years, ["KZT", "XYZ"]) == {"KZT": (START, END)}
    span_plan = explain(years, daily._SPAN, {})
    assert len(chunks_read(span_plan)) == 2  # min from the first chunk, max from the last
