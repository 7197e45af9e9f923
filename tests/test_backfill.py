"""Backfill from a web archive: a real local archive (pytest-httpserver) and the real TimescaleDB."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import zoneinfo
from pathlib import Path
from typing import Any

import lxml.html
import psycopg
import pytest
from flask.testing import FlaskClient
from pytest_httpserver import HTTPServer
from werkzeug import Response

from fxticker.collect import archive, backfill
from fxticker.collect.archive import ArchivePolicy
from fxticker.collect.backfill import BackfillConfig, BackfillSummary, Plan
from fxticker.collect.fetcher import FetchPolicy
from fxticker.collect.ingest import store_page
from fxticker.collect.sources import read_file
from tests.fix_archive import ORIGINAL, FakeArchive, memento_datetime, redirect_to, too_many, unavailable
from tests.fix_scrape import quotes
from tests.pages import html_page, text_page

ALMATY = zoneinfo.ZoneInfo("Asia/Almaty")
FAST = FetchPolicy(timeout=2.0, connect_timeout=1.0, attempts=3, backoff=0.01, max_wait=0.1)
UTC = dt.UTC


def config(fake: FakeArchive, **policy: Any) -> BackfillConfig:
    settings: dict[str, Any] = {"delay": 0.0, "page_size": 1000, "rate_limit_pause": 0.3, "fetch": FAST}
    settings.update(policy)
    return BackfillConfig(sources=(ORIGINAL,), tz=ALMATY, max_bytes=10**6,
                          policy=ArchivePolicy(base_url=fake.url, **settings))


def run(conn: psycopg.Connection, fake: FakeArchive, since: dt.date | None = None,
        until: dt.date | None = None, dry_run: bool = False, **policy: Any) -> tuple[Plan, BackfillSummary]:
    return backfill.backfill(conn, config(fake, **policy), [ORIGINAL], since, until, dry_run=dry_run)


def at(timestamp: str) -> dt.datetime:
    return dt.datetime.strptime(timestamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def replay(fake: FakeArchive, timestamp: str) -> str:
    return f"{fake.url}/web/{timestamp}id_/{ORIGINAL}"


def kzt(conn: psycopg.Connection) -> list[tuple[object, ...]]:
    return conn.execute(
        "SELECT rate_date, rate::text, first_seen, last_seen, first_source, last_source, sightings"
        " FROM observation WHERE currency = 'KZT' ORDER BY rate_date, first_seen").fetchall()


def outcomes(conn: psycopg.Connection) -> dict[str, tuple[object, ...]]:
    rows = conn.execute("SELECT captured_at, status, reason, served_at, source, observations_new, attempts"
                        " FROM archive_capture").fetchall()
    return {row[0].astimezone(UTC).strftime("%Y%m%d%H%M%S"): tuple(row[1:]) for row in rows}


@pytest.fixture
def fake(httpserver: HTTPServer) -> FakeArchive:
    return FakeArchive(httpserver, page_size=2)


def test_every_capture_is_stored_dated_and_sourced_by_its_capture(fake: FakeArchive,
                                                                  conn: psycopg.Connection) -> None:
    fake.add("20230105093000", text_page(quotes("0.00211"), date="5 January 2023"),
             content_type="text/plain; charset=utf-8")
    fake.add("20230106093000", html_page(quotes("0.00212"), date="6 January 2023"))
    # No date line: the capture time in the site's zone, 20:30 UTC being the next day in Almaty (UTC+6).
    fake.add("20230610203000", html_page(quotes("0.00213"), date=None))
    fake.add("20230611080000", html_page(quotes("0.00214"), date="11 June 2023"))
    fake.add("20230612080000", html_page(quotes("0.00215"), date="12 June 2023"))

    work, summary = run(conn, fake)

    assert (work.listed, len(work.todo)) == (5, 5)
    # Three CDX pages of two: the second and third asked for with the keys the archive gave.
    cdx = [path for _, path in fake.requests if path.startswith("/cdx/")]
    assert len(cdx) == 3 and "resumeKey=key-2" in cdx[1] and "resumeKey=key-4" in cdx[2]
    # 11 June was shown twice: its other four quotes are duplicates.
    assert summary.ok and not summary.rejected
    assert (summary.fetched, summary.stored, summary.new) == (5, 5, 21)
    assert summary.line() == ("5 capture(s) listed, 0 already known, 5 fetched: 5 stored (21 new, "
                              "4 duplicate quote(s)), 0 rejected, 0 failed")
    expected = [
        (dt.date(2023, 1, 5), "0.00211", "20230105093000"),
        (dt.date(2023, 1, 6), "0.00212", "20230106093000"),
        (dt.date(2023, 6, 11), "0.00213", "20230610203000"),
        (dt.date(2023, 6, 11), "0.00214", "20230611080000"),
        (dt.date(2023, 6, 12), "0.00215", "20230612080000"),
    ]
    assert kzt(conn) == [(day, rate, at(ts), at(ts), replay(fake, ts), replay(fake, ts), 1)
                         for day, rate, ts in expected]
    assert {ts: row[0] for ts, row in outcomes(conn).items()} == {ts: "stored" for _, _, ts in expected}
    # Every capture was read through id_: never the toolbar page.
    assert sorted(fake.fetched()) == [ts for _, _, ts in expected]
    assert all("id_/" in path for _, path in fake.requests if path.startswith("/web/"))


def test_a_second_run_fetches_nothing_it_already_has(fake: FakeArchive, conn: psycopg.Connection) -> None:
    fake.add("20240301100000", html_page(quotes("0.00221"), date="1 March 2024"))
    fake.add("20240302100000", html_page(quotes("0.00222"), date="2 March 2024"))
    run(conn, fake)
    before = (kzt(conn), outcomes(conn))
    fetched = len(fake.fetched())

    work, summary = run(conn, fake)

    assert len(fake.fetched()) == fetched == 2
    assert (work.listed, work.known, summary.fetched) == (2, 2, 0) and summary.ok
    assert (kzt(conn), outcomes(conn)) == before


def test_a_capture_whose_bytes_were_read_before_is_not_fetched(fake: FakeArchive,
                                                               conn: psycopg.Connection) -> None:
    page = html_page(quotes("0.00231"), date="1 April 2024")
    fake.add("20240401100000", page)
    fake.add("20240401160000", page)  # the same digest: the same bytes
    fake.add("20240402100000", html_page(quotes("0.00232"), date="2 April 2024"))
    work, summary = run(conn, fake)
    assert (work.listed, work.known, summary.stored) == (3, 1, 2)
    assert fake.fetched() == ["20240401100000", "20240402100000"]
    # A later listing with yet another copy of those bytes does not fetch it either.
    fake.add("20240403100000", page)
    work, summary = run(conn, fake)
    assert (work.listed, work.known, summary.fetched) == (4, 4, 0)


def test_a_capture_without_a_ticker_is_rejected_with_its_reason_and_remembered(
        fake: FakeArchive, conn: psycopg.Connection) -> None:
    fake.add("20240501100000", "<html><body><h1>Down for maintenance</h1></body></html>")
    # The ticker's copies disagree: KZT differs between two copies.
    disagreeing = html_page(quotes("0.00241"), copies=1).replace(
        "</ul>", "".join(f"<li>\u2022 {c}/USD = {r} {ch}%</li>" for c, r, ch in quotes("0.00249")) + "</ul>")
    fake.add("20240502100000", disagreeing)
    fake.add("20240503100000", html_page(quotes("0.00243"), date="3 May 2024"))

    _, summary = run(conn, fake)

    assert summary.ok and (summary.stored, len(summary.rejected)) == (1, 2)
    found = outcomes(conn)
    assert found["20240501100000"][0] == "rejected" and "ticker" in str(found["20240501100000"][1])
    assert found["20240502100000"][0] == "rejected" and "disagree" in str(found["20240502100000"][1])
    assert [row[1] for row in kzt(conn)] == ["0.00243"]
    _, again = run(conn, fake)
    assert again.fetched == 0 and len(fake.fetched()) == 3


def test_an_archived_404_is_neither_fetched_from_the_listing_nor_stored(fake: FakeArchive,
                                                                        conn: psycopg.Connection) -> None:
    fake.honour_filter = False  # the listing names the 404 all the same: the client drops it
    fake.add("20240601100000", "<html><body>Not found</body></html>", status=404)
    # Listed as 200, but replayed as the 404 page it was: rejected, not an error of the run.
    served_404 = fake.add("20240602100000", html_page(quotes("0.00251"), date="2 June 2024"))
    served_404.script.append(lambda: Response("Not found", status=404, headers={
        "Memento-Datetime": memento_datetime("20240602100000")}))
    fake.add("20240603100000", html_page(quotes("0.00253"), date="3 June 2024"))

    _, summary = run(conn, fake)

    assert "20240601100000" not in fake.fetched()
    assert summary.ok and (summary.stored, len(summary.rejected)) == (1, 1)
    assert outcomes(conn)["20240602100000"][:2] == (
        "rejected", f"{replay(fake, '20240602100000')}: the archived page is an HTTP 404")
    assert [row[1] for row in kzt(conn)] == ["0.00253"]


@pytest.mark.timing
def test_a_429_with_retry_after_pauses_every_request_for_that_long(
        fake: FakeArchive, conn: psycopg.Connection, caplog: pytest.LogCaptureFixture) -> None:
    first = fake.add("20240701100000", html_page(quotes("0.00261"), date="1 July 2024"))
    first.script.append(too_many("1"))
    second = fake.add("20240702100000", html_page(quotes("0.00262"), date="2 July 2024"))
    second.script.append(too_many("1"))

    with caplog.at_level(logging.WARNING, logger="fxticker.collect.archive"):
        _, summary = run(conn, fake)

    assert summary.ok and summary.stored == 2
    assert fake.fetched() == ["20240701100000"] * 2 + ["20240702100000"] * 2
    times = fake.times()
    # Lower bounds only: a busy machine makes gaps longer, never shorter.
    assert times[2] - times[1] >= 1.0  # the retry waited for the Retry-After
    assert times[4] - times[3] >= 1.0
    # A success in between ends the run of 429s: the next one waits its Retry-After again, not double.
    # The pause chosen is read from the log, not from a clock a busy machine stretches.
    waits = [r.getMessage() for r in caplog.records if "HTTP 429" in r.getMessage()]
    assert [w.split(": ", 1)[1] for w in waits] == [
        "HTTP 429 (1 in a row): pausing every request to the archive for 1.0 s (Retry-After)",
    ] * 2


@pytest.mark.timing
def test_429s_without_retry_after_pause_at_least_the_floor_and_back_off_further(
        fake: FakeArchive, conn: psycopg.Connection, caplog: pytest.LogCaptureFixture) -> None:
    first = fake.add("20240801100000", html_page(quotes("0.00271"), date="1 August 2024"))
    first.script += [too_many(), too_many()]

    with caplog.at_level(logging.WARNING, logger="fxticker.collect.archive"):
        _, summary = run(conn, fake, rate_limit_pause=0.4)

    assert summary.ok and summary.stored == 1
    times = fake.times()  # the listing, two 429s, the capture
    assert times[2] - times[1] >= 0.4
    assert times[3] - times[2] >= 0.8  # doubled: repeated 429s back off further
    waits = [r.getMessage() for r in caplog.records if "HTTP 429" in r.getMessage()]
    assert [w.split(": ", 1)[1] for w in waits] == [
        "HTTP 429 (1 in a row): pausing every request to the archive for 0.4 s",
        "HTTP 429 (2 in a row): pausing every request to the archive for 0.8 s",
    ]


@pytest.mark.timing
def test_a_429_on_the_listing_pauses_it_too(fake: FakeArchive, conn: psycopg.Connection) -> None:
    fake.page_size = 1
    fake.add("20240811100000", html_page(quotes("0.00272"), date="11 August 2024"))
    fake.add("20240812100000", html_page(quotes("0.00273"), date="12 August 2024"))
    fake.cdx_script.append(too_many("1"))

    work, summary = run(conn, fake)

    assert work.listed == 2 and summary.ok and summary.stored == 2
    paths = [path for _, path in fake.requests]
    assert paths[0] == paths[1] and paths[0].startswith("/cdx/")  # the refused page asked again
    times = fake.times()
    assert times[1] - times[0] >= 1.0


def test_429s_that_would_pause_too_long_stop_the_run_with_what_it_stored_kept(
        fake: FakeArchive, conn: psycopg.Connection) -> None:
    fake.add("20240901100000", html_page(quotes("0.00281"), date="1 September 2024"))
    second = fake.add("20240902100000", html_page(quotes("0.00282"), date="2 September 2024"))
    second.script.append(too_many("7200"))

    _, summary = run(conn, fake)

    assert not summary.ok and summary.stopped is not None
    assert "HTTP 429" in summary.stopped and "run again later" in summary.stopped
    assert [row[1] for row in kzt(conn)] == ["0.00281"]
    assert "20240902100000" not in outcomes(conn)  # no outcome: the next run fetches it


def test_a_capture_that_fails_after_retries_is_recorded_failed_and_fetched_again(
        fake: FakeArchive, conn: psycopg.Connection) -> None:
    flaky = fake.add("20241001100000", html_page(quotes("0.00291"), date="1 October 2024"))
    flaky.script += [unavailable()] * 3  # FAST makes three attempts
    fake.add("20241002100000", html_page(quotes("0.00292"), date="2 October 2024"))

    _, summary = run(conn, fake)

    assert not summary.ok and summary.stored == 1
    assert summary.failed == [f"{replay(fake, '20241001100000')}: HTTP 503 (after 3 attempts)"]
    assert outcomes(conn)["20241001100000"][0] == "failed"
    _, again = run(conn, fake)
    assert again.ok and again.stored == 1
    assert outcomes(conn)["20241001100000"][0::5] == ("stored", 2)
    assert fake.fetched().count("20241002100000") == 1


def test_a_redirect_to_a_nearby_capture_is_dated_and_sourced_by_the_capture_served(
        fake: FakeArchive, conn: psycopg.Connection) -> None:
    listed = fake.add("20241101100000", html_page(quotes("0.00301"), date=None))
    # The capture actually served is seven hours later, after midnight in Almaty: the next day.
    fake.add("20241101190000", html_page(quotes("0.00302"), date=None), listed=False)
    listed.script.append(redirect_to("20241101190000"))

    _, summary = run(conn, fake)

    assert summary.ok and summary.stored == 1
    served = "20241101190000"
    assert kzt(conn) == [(dt.date(2024, 11, 2), "0.00302", at(served), at(served), replay(fake, served),
                          replay(fake, served), 1)]
    status, _, served_at, source, *_ = outcomes(conn)["20241101100000"]
    assert (status, served_at, source) == ("stored", at(served), replay(fake, served))


def test_the_toolbar_page_is_never_read_even_when_its_numbers_differ(fake: FakeArchive,
                                                                     conn: psycopg.Connection) -> None:
    toolbar = html_page(quotes("0.00399"), date="1 December 2024").encode()
    fake.add("20241201100000", html_page(quotes("0.00311"), date="1 December 2024"), toolbar=toolbar)
    # An archive that redirects the id_ request to its toolbar page: that capture is refused.
    other = fake.add("20241202100000", html_page(quotes("0.00312"), date="2 December 2024"),
                     toolbar=html_page(quotes("0.00398"), date="2 December 2024").encode())
    other.script.append(lambda: Response(
        "", status=302, headers={"Location": f"/web/20241202100000/{ORIGINAL}"}))

    _, summary = run(conn, fake)

    assert [row[1] for row in kzt(conn)] == ["0.00311"]
    assert summary.ok and (summary.stored, len(summary.rejected)) == (1, 1)
    assert "not an original capture (id_)" in str(outcomes(conn)["20241202100000"][1])
    assert not any("0.00399" in str(row) or "0.00398" in str(row) for row in kzt(conn))


def test_the_range_is_asked_of_the_archive_and_kept_to(fake: FakeArchive, conn: psycopg.Connection) -> None:
    for day in (1, 2, 3, 4):
        fake.add(f"2025010{day}100000", html_page(quotes(f"0.0032{day}"), date=f"{day} January 2025"))
    work, _ = run(conn, fake, since=dt.date(2025, 1, 2), until=dt.date(2025, 1, 3))
    assert work.listed == 2
    cdx = next(path for _, path in fake.requests if path.startswith("/cdx/"))
    assert "from=20250102" in cdx and "to=20250103" in cdx
    assert [row[1] for row in kzt(conn)] == ["0.00322", "0.00323"]


def test_a_dry_run_counts_per_month_and_fetches_nothing(fake: FakeArchive, conn: psycopg.Connection) -> None:
    fake.add("20250110100000", html_page(quotes("0.00331"), date="10 January 2025"))
    fake.add("20250111100000", html_page(quotes("0.00332"), date="11 January 2025"))
    fake.add("20250301100000", html_page(quotes("0.00333"), date="1 March 2025"))
    work, summary = run(conn, fake, dry_run=True)
    assert work.months() == {"2025-01": 2, "2025-03": 1}
    assert fake.fetched() == [] and outcomes(conn) == {} and kzt(conn) == []
    assert summary.fetched == 0


def test_an_archive_answering_html_instead_of_cdx_json_stops_with_one_clear_error(
        fake: FakeArchive, conn: psycopg.Connection) -> None:
    fake.cdx_answer = lambda: Response("<html><body>Hello</body></html>",
                                                              content_type="text/html")
    with pytest.raises(archive.ArchiveUnavailable, match="the archive answered HTML, not CDX JSON"):
        run(conn, fake)


def test_the_dashboard_and_the_native_api_show_the_capture_as_the_source(
        fake: FakeArchive, conn: psycopg.Connection, client: FlaskClient) -> None:
    fake.add("20250201100000", html_page(quotes("0.00341"), date="1 February 2025"))
    run(conn, fake)
    source = replay(fake, "20250201100000")

    page = lxml.html.fromstring(client.get("/").text)
    [link] = page.xpath('//table[@class="latest"]/tbody/tr[@data-currency="KZT"]/td[@class="source"]/a')
    assert link.get("href") == source and link.text_content() == "localhost"

    rows = client.get("/api/observations?currency=KZT").get_json()
    assert [(r["rate"], r["source"], r["first_source"]) for r in rows] == [("0.00341", source, source)]
    table = list(csv.DictReader(io.StringIO(client.get("/api/observations.csv?currency=KZT").text)))
    assert [(r["rate"], r["source"], r["first_source"]) for r in table] == [("0.00341", source, source)]


def test_a_file_source_is_shown_as_text_not_a_link(conn: psycopg.Connection, client: FlaskClient,
                                                   tmp_path: Path) -> None:
    page = tmp_path / "saved.html"
    page.write_text(html_page(quotes("0.00351"), date="3 February 2025"), encoding="utf-8")
    outcome = store_page(conn, read_file(page, 10**6), fallback_date=None, tz=ALMATY, max_bytes=10**6)
    assert outcome.ok
    tree = lxml.html.fromstring(client.get("/").text)
    [cell] = tree.xpath('//table[@class="latest"]/tbody/tr[@data-currency="KZT"]/td[@class="source"]')
    assert cell.text_content().strip() == "saved.html" and cell.xpath(".//a") == []


def test_a_pages_quotes_and_its_outcome_commit_together(fake: FakeArchive, conn: psycopg.Connection) -> None:
    fake.add("20250301100000", html_page(quotes("0.00361"), date="1 March 2025"))
    # The database refuses the outcome, as a full disk or a lost connection would: the quotes go too.
    conn.execute("""
        CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN RAISE EXCEPTION 'outcome refused'; END $$;
        CREATE TRIGGER refuse BEFORE INSERT ON archive_capture FOR EACH ROW EXECUTE FUNCTION refuse();
    """)
    with pytest.raises(psycopg.errors.RaiseException, match="outcome refused"):
        run(conn, fake)
    assert kzt(conn) == [] and outcomes(conn) == {}
    conn.execute("DROP TRIGGER refuse ON archive_capture")
    _, summary = run(conn, fake)
    assert summary.stored == 1 and [row[1] for row in kzt(conn)] == ["0.00361"]
