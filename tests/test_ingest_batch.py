"""The batch store (observations.save_pages) against page-by-page saves (observations.save_quotes): the same
rows, the same provenance and sightings, the same new and duplicate counts, whatever the batch holds."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import psycopg
import pytest

from fxticker.storage import observations
from fxticker.ticker import Quote

DAY = dt.date(2025, 12, 1)
NOON = dt.datetime(2025, 12, 1, 12, tzinfo=dt.UTC)
ALL_COLUMNS = """SELECT rate_date, currency, rate::text, change_pct::text, direction, first_seen, last_seen,
                        sightings, first_source, last_source, first_hash, last_hash
                 FROM observation ORDER BY rate_date, currency, rate, change_pct, direction"""
INGESTION_ORDER = """SELECT rate_date, currency, rate::text, change_pct::text, direction FROM observation
                     ORDER BY ingest_seq"""


def random_pages(rng: random.Random, count: int) -> list[observations.PageQuotes]:
    """Pages over few days, currencies and rates, so that keys repeat within and across batches; capture
    times from a small set, so ties are common; now and then a quote given twice, or spelled 0.10/0.1."""
    pages = []
    for n in range(count):
        quotes = []
        for currency in rng.sample(["KGS", "KZT", "TJS"], rng.randint(0, 3)):
            rate = rng.choice(["0.1", "0.10", "0.2", "0.3"])
            change = rng.choice(["0", "0.00", "1.5", "-0"])
            direction = "down" if change.startswith("-") else ("up" if Decimal(change) > 0 else "flat")
            quote = Quote(currency, Decimal(rate), Decimal(change.lstrip("-")), direction)
            quotes += [quote, quote] if rng.random() < 0.1 else [quote]
        pages.append(observations.PageQuotes(
            quotes=quotes,
            rate_date=DAY + dt.timedelta(days=rng.randint(0, 2)),
            source=f"page-{n}",
            content_hash=f"hash-{n}",
            seen_at=NOON + dt.timedelta(hours=rng.randint(0, 5)),
        ))
    return pages


def one_by_one(conn: psycopg.Connection,
               pages: list[observations.PageQuotes]) -> list[observations.SaveResult]:
    return [observations.save_quotes(conn, p.quotes, rate_date=p.rate_date, source=p.source,
                              content_hash=p.content_hash, seen_at=p.seen_at) for p in pages]


def in_batches(conn: psycopg.Connection, pages: list[observations.PageQuotes], rng: random.Random
               ) -> list[observations.SaveResult]:
    results: list[observations.SaveResult] = []
    start = 0
    while start < len(pages):
        size = rng.randint(1, 40)
        results += observations.save_pages(conn, pages[start:start + size])
        start += size
    return results


@pytest.mark.parametrize("seed", range(12))
def test_batches_store_what_pages_one_by_one_store(db_url: str, seed: int) -> None:
    rng = random.Random(seed)
    earlier, pages = random_pages(rng, 30), random_pages(rng, 120)
    with psycopg.connect(db_url) as conn:
        # What is already stored matters to sightings and provenance: some pages go in before.
        one_by_one(conn, earlier)
        conn.commit()
        want_results = one_by_one(conn, pages)
        want_rows = conn.execute(ALL_COLUMNS).fetchall()
        want_order = conn.execute(INGESTION_ORDER).fetchall()
        conn.rollback()
        got_results = in_batches(conn, pages, rng)
        got_rows = conn.execute(ALL_COLUMNS).fetchall()
        got_order = conn.execute(INGESTION_ORDER).fetchall()
        conn.rollback()
    assert got_rows == want_rows
    assert got_results == want_results
    # sql/007's tie-break: the rows rank in the same ingestion order (a sequence's values are not rolled
    # back, so the numbers differ; their order may not).
    assert got_order == want_order
    assert sum(r.new for r in got_results) > 0 and max(row[7] for row in got_rows) > 1, "a test with work"


def test_an_empty_batch_and_pages_without_quotes_store_nothing(db_url: str) -> None:
    empty = observations.PageQuotes([], DAY, "empty", "h", NOON)
    with psycopg.connect(db_url) as conn:
        assert observations.save_pages(conn, []) == []
        assert observations.save_pages(conn, [empty, empty]) == [observations.SaveResult(0, 0)] * 2
        assert conn.execute("SELECT count(*) FROM observation").fetchone() == (0,)


def test_a_capture_time_without_a_zone_is_refused(db_url: str) -> None:
    naive = observations.PageQuotes([Quote("KGS", Decimal("0.1"), Decimal("0"), "flat")], DAY, "p", "h",
                             dt.datetime(2025, 12, 1, 12))
    with psycopg.connect(db_url) as conn, pytest.raises(ValueError, match="time zone"):
        observations.save_pages(conn, [naive])
