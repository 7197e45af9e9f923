"""What a hostile archive cannot do to a backfill: dates from anywhere, endless listings, huge or deeply
nested fields. Each is refused with a reason, counted, and nothing wrong is stored; the risky listings
run in a subprocess with a memory cap and a timeout."""

from __future__ import annotations

import datetime as dt
import json
import resource
import subprocess
import sys
import zoneinfo
from typing import Any

import psycopg
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from fxticker.collect import archive, backfill
from fxticker.collect.archive import ArchivePolicy
from fxticker.collect.backfill import BackfillConfig, BackfillSummary, Plan
from fxticker.collect.fetcher import FetchPolicy
from tests.fix_archive import ORIGINAL, FakeArchive
from tests.fix_scrape import quotes
from tests.pages import text_page

FAST = FetchPolicy(timeout=2.0, connect_timeout=1.0, attempts=2, backoff=0.01, max_wait=0.1)
MEMORY_LIMIT = 1024**3
FIELDS = ["timestamp", "original", "digest", "statuscode", "mimetype"]


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run(conn: psycopg.Connection, base: str, dry_run: bool = False) -> tuple[Plan, BackfillSummary]:
    config = BackfillConfig(sources=(ORIGINAL,), tz=zoneinfo.ZoneInfo("Asia/Almaty"), max_bytes=32 * 1024**2,
                            policy=ArchivePolicy(base_url=base, delay=0.0, fetch=FAST))
    return backfill.backfill(conn, config, [ORIGINAL], None, None, dry_run=dry_run)


def served_as(memento: str) -> Any:
    def answer() -> Response:
        body = text_page(quotes("0.00211"), date="5 January 2023")
        return Response(body, content_type="text/plain; charset=utf-8",
                        headers={"Memento-Datetime": memento})
    return answer


@pytest.mark.parametrize(("memento", "reason"), [
    ("Fri, 31 Dec 9999 23:59:59 GMT",
     "Memento-Datetime 9999-12-31T23:59:59+00:00 is more than a day in the future"),
    ("Mon, 01 Jan 1900 00:00:00 GMT",
     "Memento-Datetime 1900-01-01T00:00:00+00:00 is before 2000-01-01, older than any ticker"),
])
def test_a_capture_served_from_an_unbelievable_time_is_rejected_and_stores_nothing(
        httpserver: HTTPServer, conn: psycopg.Connection, memento: str, reason: str) -> None:
    fake = FakeArchive(httpserver)
    fake.add("20230105093000", b"", script=[served_as(memento)])
    fake.add("20230106093000", text_page(quotes("0.00212"), date="6 January 2023"),
             content_type="text/plain; charset=utf-8")
    _, summary = run(conn, fake.url)
    assert summary.stored == 1 and len(summary.rejected) == 1, summary
    assert summary.rejected[0].endswith(reason)
    seen = conn.execute("SELECT max(last_seen)::date, min(first_seen)::date FROM observation").fetchone()
    assert seen == (dt.date(2023, 1, 6), dt.date(2023, 1, 6))
    [(status, stored_reason)] = conn.execute(
        "SELECT status, reason FROM archive_capture WHERE status <> 'stored'").fetchall()
    assert status == "rejected" and stored_reason.endswith(reason)


def cdx(rows: list[list[str]], key: str | None = None) -> Response:
    table: list[list[str]] = [FIELDS, *rows]
    if key is not None:
        table += [[], [key]]
    return Response(json.dumps(table), content_type="application/json")


def row(timestamp: str, original: str = ORIGINAL, digest: str = "D",
        mimetype: str = "text/html") -> list[str]:
    return [timestamp, original, digest, "200", mimetype]


@pytest.mark.parametrize(("bad", "reason"), [
    (row("20230105093000", digest="D" * 10_000_000), "its digest is 10,000,000 characters, over the 128"),
    (row("20230105093000", original=ORIGINAL + "a" * 65_500),
     "its original is 65,520 characters, over the 2,048"),
    (row("99991231000000"), "its timestamp 9999-12-31T00:00:00+00:00 is more than a day in the future"),
    (row("19000101000000"), "its timestamp 1900-01-01T00:00:00+00:00 is before 2000-01-01"),
])
def test_a_row_that_cannot_be_a_capture_is_refused_alone_with_its_reason(
        httpserver: HTTPServer, conn: psycopg.Connection, bad: list[str], reason: str) -> None:
    fake = FakeArchive(httpserver)
    fake.add("20230106093000", text_page(quotes("0.00212"), date="6 January 2023"),
             content_type="text/plain; charset=utf-8")
    good = [row("20230106093000", digest=fake.captures["20230106093000"].digest)]
    fake.cdx_answer = lambda: cdx([bad, *good])
    _, summary = run(conn, fake.url)
    assert summary.stored == 1, summary
    [line] = summary.rejected
    assert f"CDX row 2: {reason}" in line
    assert conn.execute("SELECT count(*) FROM archive_capture").fetchone() == (1,)


LISTING = """
import sys, zoneinfo
import psycopg
from fxticker.collect import backfill
from fxticker.collect.archive import ArchivePolicy
from fxticker.collect.backfill import BackfillConfig
from fxticker.collect.fetcher import FetchPolicy
config = BackfillConfig(sources=("https://timesca.com/",), tz=zoneinfo.ZoneInfo("UTC"), max_bytes=10**7,
                        policy=ArchivePolicy(base_url=sys.argv[1], delay=0.0, fetch=FetchPolicy(attempts=1)))
with psycopg.connect(sys.argv[2], autocommit=True) as conn:
    try:
        backfill.backfill(conn, config, ["https://timesca.com/"], None, None, dry_run=True)
    except Exception as exc:
        print(type(exc).__name__, exc)
"""


def listing(base: str, db_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", LISTING, base, db_url], capture_output=True, text=True,
                          timeout=120, preexec_fn=_limit_memory, check=False)


@pytest.mark.slow
def test_endless_resume_keys_stop_the_listing_at_its_bound(httpserver: HTTPServer, db_url: str) -> None:
    count = [0]

    def endless(request: Request) -> Response:
        count[0] += 1
        rows = [row(f"2023{(n % 12) + 1:02d}01{count[0] % 24:02d}{n % 60:02d}00", digest=f"D{count[0]}-{n}")
                for n in range(1000)]
        return cdx(rows, key=f"key-{count[0]}-" + "k" * 500)

    httpserver.expect_request("/cdx/search/cdx").respond_with_handler(endless)
    result = listing(httpserver.url_for("").rstrip("/"), db_url)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.stdout.strip().endswith(
        f"the list goes on past {archive.MAX_CDX_ROWS:,} rows or {archive.MAX_CDX_BYTES:,} bytes")
    assert count[0] <= archive.MAX_CDX_ROWS // 1000 + 1


def test_a_listing_of_empty_pages_with_fresh_keys_stops_at_the_page_bound(httpserver: HTTPServer,
                                                                          db_url: str) -> None:
    count = [0]

    def empty(request: Request) -> Response:
        count[0] += 1
        return cdx([], key=f"key-{count[0]}")

    httpserver.expect_request("/cdx/search/cdx").respond_with_handler(empty)
    result = listing(httpserver.url_for("").rstrip("/"), db_url)
    assert result.stdout.strip().endswith(f"the list goes on past {archive.MAX_CDX_PAGES:,} pages"), result
    assert count[0] == archive.MAX_CDX_PAGES


def test_deeply_nested_json_from_the_archive_is_one_line(httpserver: HTTPServer, db_url: str) -> None:
    httpserver.expect_request("/cdx/search/cdx").respond_with_data(b"[" * 100_000,
                                                                   content_type="application/json")
    result = listing(httpserver.url_for("").rstrip("/"), db_url)
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.stdout.strip().endswith("the archive answered JSON nested too deeply to be CDX")
