"""The API's response cache (fxticker/web/cache.py) and the data version it is keyed by (sql/004_*.sql):
every answer new once the worker has heard of an ingest, hits that read no data, and the trigger behind
it. How soon a worker hears is tests/test_version_watch.py's subject."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import psycopg
import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from fxticker.storage import observations as store
from fxticker.storage.data_version import current as version
from fxticker.ticker import Quote
from fxticker.web import pool as web_db
from fxticker.web import version_watch
from fxticker.web.cache import ResponseCache, current
from fxticker.web.pool import read_connection
from tests.fix_api import DAY2_LATE, CheckedClient, ingest_pages
from tests.fix_serve import free_port, wait_until_serving
from tests.fix_wait import wait_for

EVENING = dt.datetime(2025, 12, 19, 20, tzinfo=dt.UTC)
# A third revision of the 19th, seen after the sample days' two: KZT moves from 0.00194 to 0.00195.
DAY2_NIGHT = [("KZT", "0.00195", "0.52") if code == "KZT" else (code, rate, change)
              for code, rate, change in DAY2_LATE]


def kzt(rows: list[dict[str, object]]) -> object:
    return next(r["rate"] for r in rows if r["quote"] == "KZT")


# The trigger and the table.

def test_every_kind_of_change_to_observation_bumps_the_version(conn: psycopg.Connection) -> None:
    quotes = [Quote("KZT", Decimal("0.00193"), Decimal("0"), "flat")]
    seen = dt.datetime(2025, 12, 19, 6, tzinfo=dt.UTC)

    def save(at: dt.datetime) -> store.SaveResult:
        with conn.transaction():
            return store.save_quotes(conn, quotes, rate_date=dt.date(2025, 12, 19), source="s",
                                     content_hash="h", seen_at=at)

    before = version(conn)
    assert save(seen).new == 1
    after_insert = version(conn)
    assert after_insert > before
    # The same quote seen later: ON CONFLICT DO UPDATE widens last_seen.
    assert save(seen + dt.timedelta(hours=1)).duplicate == 1
    after_update = version(conn)
    assert after_update > after_insert
    conn.execute("DELETE FROM observation WHERE currency = 'KZT'")
    after_delete = version(conn)
    assert after_delete > after_update
    conn.execute("TRUNCATE observation")
    assert version(conn) > after_delete


def test_a_rolled_back_change_leaves_the_version_alone(conn: psycopg.Connection) -> None:
    before = version(conn)
    with pytest.raises(psycopg.errors.CheckViolation), conn.transaction():
        conn.execute("INSERT INTO observation (rate_date, currency, rate, change_pct, direction, first_seen,"
                     " last_seen, first_source, last_source, first_hash, last_hash) VALUES ('2025-12-19',"
                     " 'KZT', 0.1, 0, 'flat', now(), now(), 's', 's', 'h', 'h')")
        conn.execute("UPDATE observation SET rate = -1")  # violates rate > 0: the whole page goes
    assert version(conn) == before


def test_the_reader_role_reads_the_version_but_cannot_move_it(conn: psycopg.Connection) -> None:
    conn.execute("SET ROLE fxticker_reader")
    assert version(conn) >= 1
    for statement in ("UPDATE data_version SET version = version + 1", "DELETE FROM data_version",
                      "INSERT INTO data_version (id, version) VALUES (false, 0)"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)


# The read connections.

def test_read_connections_are_autocommit_read_only_and_the_reader(app: Flask) -> None:
    with app.test_request_context("/v2/rates"), read_connection() as conn:
        assert conn.autocommit
        assert conn.execute("SELECT current_user, current_setting('transaction_read_only')").fetchone() == (
            "fxticker_reader", "on")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("CREATE TEMP TABLE scratch (x int)")


# The cache through the app.

def test_an_ingest_changes_every_answer_once_heard_of(
    api: CheckedClient, sample_days: None, tmp_path: Path
) -> None:
    urls = ["/v2/rates", "/v2/rates?quotes=KZT", "/v2/rates?from=2025-12-01", "/v2/rate/USD/KZT",
            "/v1/latest", "/v1/2025-12-01..", "/v2/rates.csv", "/api/observations?currency=KZT"]
    first = {url: api.get(url).data for url in urls}
    assert {url: api.get(url).data for url in urls} == first  # now served from the cache
    assert api.json("/v2/rate/USD/KZT")["rate"] == 515.46

    ingest_pages(tmp_path, [("19 December 2025", DAY2_NIGHT, EVENING)])

    assert api.json("/v2/rate/USD/KZT")["rate"] == 512.82
    assert kzt(api.json("/v2/rates")) == 512.82
    assert api.json("/v1/latest")["rates"]["KZT"] == 512.82
    assert api.get("/v2/rates.csv").data.count(b"512.82") == 1
    assert all(api.get(url).data != first[url] for url in urls)

    # A new day, and a later one in the series.
    ingest_pages(tmp_path, [("20 December 2025", DAY2_NIGHT, EVENING + dt.timedelta(days=1))])
    assert api.json("/v1/latest")["date"] == "2025-12-20"
    assert api.json("/v2/rates?from=2025-12-01")[-1]["date"] == "2025-12-20"


def test_a_hit_reads_no_data(
    api: CheckedClient, app: Flask, sample_days: None, db_url: str
) -> None:
    """With SELECT on the data taken away, a cached answer still comes back whole, an uncached one cannot:
    so a hit ran no query on the data (tests/test_web_db.py counts what it sends: nothing while the
    watch vouches for the version, the version's query when it does not)."""
    cache = app.extensions["fxticker_response_cache"]
    assert isinstance(cache, ResponseCache)
    miss = api.get("/v2/rates?base=USD&quotes=KZT,UZS")
    assert miss.status_code == 200 and cache.stats().misses == 1 and cache.stats().hits == 0
    with psycopg.connect(db_url, autocommit=True) as owner:
        owner.execute("REVOKE SELECT ON observation, daily_rate FROM fxticker_reader")
        try:
            hit = api.get("/v2/rates?quotes=KZT,UZS&base=USD")  # the same arguments in another order
            assert hit.status_code == 200 and hit.data == miss.data
            assert hit.headers["ETag"] == miss.headers["ETag"]
            assert cache.stats().hits == 1
            # A miss needs the data (a 500 is not in the OpenAPI document: the unchecked client).
            assert api.client.get("/v2/rates?quotes=KZT").status_code == 500
        finally:
            owner.execute("GRANT SELECT ON observation, daily_rate TO fxticker_reader")
    assert api.get("/v2/rates?quotes=KZT").status_code == 200


def test_a_hit_answers_304_to_its_etag(api: CheckedClient, sample_days: None) -> None:
    first = api.get("/v1/latest")
    again = api.get("/v1/latest", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.headers["ETag"] == first.headers["ETag"]


def test_errors_are_not_kept(api: CheckedClient, app: Flask, sample_days: None, tmp_path: Path) -> None:
    assert api.get("/v2/rate/USD/KZT?date=2025-12-10").status_code == 404
    assert api.get("/v2/rates?base=XYZ").status_code == 422
    with app.app_context():
        assert current().stats().entries == 0
    ingest_pages(tmp_path, [("10 December 2025", DAY2_LATE, dt.datetime(2025, 12, 10, 6, tzinfo=dt.UTC))])
    assert api.json("/v2/rate/USD/KZT?date=2025-12-10")["date"] == "2025-12-10"


def test_switched_off_it_computes_every_time(env: dict[str, str], db_url: str, sample_days: None) -> None:
    from fxticker.web import create_app

    app = create_app({"TESTING": True, "DATABASE_READ_URL": db_url, "RESPONSE_CACHE_BYTES": 0})
    try:
        client = app.test_client()
        assert client.get("/v1/latest").data == client.get("/v1/latest").data
        assert app.extensions["fxticker_response_cache"].stats().entries == 0
    finally:
        web_db.close(app)



# Through gunicorn: two workers, each with its own cache.

@pytest.fixture
def served(env: dict[str, str], tmp_path: Path, sample_days: None) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "fxticker", "serve", "--port", str(port), "--workers", "2"],
        env={**env, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(base, process, lambda: process.communicate()[1][-2000:])
    yield base
    process.terminate()
    process.communicate(timeout=30)


@pytest.mark.slow
def test_every_worker_answers_with_new_data_after_an_ingest(served: str, tmp_path: Path) -> None:
    def rates_seen() -> set[object]:
        # A new connection per request, so that both workers answer (and fill their caches).
        return {httpx.get(served + "/v2/rate/USD/KZT", timeout=10).json()["rate"] for _ in range(24)}

    assert rates_seen() == {515.46}
    ingest_pages(tmp_path, [("19 December 2025", DAY2_NIGHT, EVENING)])
    # Each worker hears of it from the notification, milliseconds later; at worst within TRUST.
    wait_for("both workers to answer the new rate", lambda: rates_seen() == {512.82},
             timeout=version_watch.TRUST + 3)


@pytest.mark.slow
def test_every_worker_hears_of_changes(served: str) -> None:
    """Both workers listen for the data version's notifications: /metrics sums them over the workers."""
    def watchers() -> float:
        text = httpx.get(served + "/metrics", timeout=10).text
        return next(s.value for f in text_string_to_metric_families(text) for s in f.samples
                    if s.name == "fxticker_data_version_watchers")

    wait_for("both workers to listen", lambda: watchers() == 2)
