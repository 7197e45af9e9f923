"""The data version moves when rows change, once per transaction, and not when nothing changed: a re-read
of an unchanged file, a bank's unchanged answer."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal
from pathlib import Path

import psycopg

from fxticker.collect.fetcher import FetchPolicy
from fxticker.collect.scrape import ScrapeConfig, Scraper
from fxticker.official import rate_store
from fxticker.official.answers import OfficialRate
from fxticker.storage import observations as store
from fxticker.storage.data_version import current as version
from fxticker.ticker import Quote
from tests.fix_scrape import quotes
from tests.pages import text_page

SEEN = dt.datetime(2025, 12, 19, 6, tzinfo=dt.UTC)


def test_saving_what_is_stored_already_leaves_the_version(conn: psycopg.Connection) -> None:
    page = [Quote("KZT", Decimal("0.00193"), Decimal("0"), "flat")]

    def save() -> store.SaveResult:
        with conn.transaction():
            return store.save_quotes(conn, page, rate_date=dt.date(2025, 12, 19), source="s",
                                     content_hash="h", seen_at=SEEN)

    assert save().new == 1
    stored = version(conn)
    assert save().duplicate == 1
    assert version(conn) == stored


def test_a_batch_of_many_changed_rows_bumps_once(conn: psycopg.Connection) -> None:
    pages = [store.PageQuotes([Quote("KZT", Decimal(f"0.00{190 + n}"), Decimal("0"), "flat")],
                              dt.date(2025, 12, 1) + dt.timedelta(days=n), "s", "h", SEEN)
             for n in range(20)]
    before = version(conn)
    with conn.transaction():
        store.save_pages(conn, pages)
    assert version(conn) == before + 1


def test_scraping_an_unchanged_file_again_leaves_the_version(db_url: str, tmp_path: Path) -> None:
    page = tmp_path / "page.txt"
    page.write_text(text_page(quotes("0.00193"), date="19 December 2025"))
    config = ScrapeConfig(sources=(str(page), str(page)), tz=zoneinfo.ZoneInfo("Asia/Almaty"),
                          max_bytes=10**6, policy=FetchPolicy(attempts=1))
    scraper = Scraper(db_url, config)
    try:
        assert scraper.run().status == "ok"
        with psycopg.connect(db_url) as conn:
            stored = version(conn)
        for _ in range(3):
            assert scraper.run().status == "ok"
    finally:
        scraper.close()
    with psycopg.connect(db_url) as conn:
        assert version(conn) == stored


def test_an_unchanged_official_rate_leaves_the_version_and_a_correction_moves_it(
        conn: psycopg.Connection) -> None:
    def rate(published: str) -> OfficialRate:
        return OfficialRate("nbt", "TJS", dt.date(2026, 5, 19), Decimal(published), published, 1)

    with conn.transaction():
        assert rate_store.save_rates(conn, [rate("9.3371")], source="s", fetched_at=SEEN).new == 1
    stored = version(conn)
    with conn.transaction():
        assert rate_store.save_rates(conn, [rate("9.3371")], source="s", fetched_at=SEEN).same == 1
    assert version(conn) == stored
    with conn.transaction():
        assert rate_store.save_rates(conn, [rate("9.3372")], source="s", fetched_at=SEEN).changed == 1
    assert version(conn) == stored + 1
