"""Scrape runs against a real local site and a real TimescaleDB, faults included: accounting, 304, outages."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import zoneinfo
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from fxticker.collect.fetcher import FetchPolicy
from fxticker.collect.scrape import ScrapeConfig, Scraper
from fxticker.storage import cluster
from tests.fix_scrape import allow_all, fresh, kzt_rates, own_cluster, quotes, runs, source_runs
from tests.pages import html_page, text_page

ALMATY = zoneinfo.ZoneInfo("Asia/Almaty")
FAST = FetchPolicy(timeout=0.3, connect_timeout=0.3, attempts=2, backoff=0.01, max_wait=0.5)


def config(*sources: str) -> ScrapeConfig:
    return ScrapeConfig(sources=tuple(sources), tz=ALMATY, max_bytes=10**6, policy=FAST)


def serve(server: HTTPServer, path: str, kzt: str = "0.00193", date: str | None = "19 December 2025",
          **headers: str) -> str:
    server.expect_request(path).respond_with_data(html_page(quotes(kzt), date=date), headers=headers,
                                                  content_type="text/html; charset=utf-8")
    return server.url_for(path)


@pytest.fixture(scope="module")
def faults_cluster() -> Iterator[cluster.EmbeddedCluster]:
    yield from own_cluster()


@pytest.fixture
def faults_url(faults_cluster: cluster.EmbeddedCluster) -> str:
    return fresh(faults_cluster)


def test_a_run_records_the_run_and_every_source(httpserver: HTTPServer, db_url: str) -> None:
    allow_all(httpserver)
    first, second = serve(httpserver, "/a", "0.00193"), serve(httpserver, "/b", "0.00194")
    scraper = Scraper(db_url, config(first, second))
    record = scraper.run()
    scraper.close()
    assert record.status == "ok"
    [(run_id, status, trigger, total, failed, error, finished, host)] = runs(db_url)
    assert (status, trigger, total, failed, error, finished) == ("ok", "manual", 2, 0, None, True)
    assert host == f"{socket.gethostname()}/{os.getpid()}"
    assert source_runs(db_url, run_id) == {first: ("ok", 200, 5, 0, None), second: ("ok", 200, 1, 4, None)}
    assert kzt_rates(db_url) == ["0.00193", "0.00194"]


def test_rescraping_adds_nothing_and_a_changed_ticker_adds_a_revision(httpserver: HTTPServer,
                                                                      db_url: str) -> None:
    allow_all(httpserver)
    url = serve(httpserver, "/")
    scraper = Scraper(db_url, config(url))
    assert scraper.run().results[0].new == 5
    again = scraper.run().results[0]
    assert (again.new, again.duplicate) == (0, 5)
    httpserver.clear()
    allow_all(httpserver)
    serve(httpserver, "/", "0.00195")
    changed = scraper.run().results[0]
    scraper.close()
    assert (changed.new, changed.duplicate) == (1, 4)
    with psycopg.connect(db_url) as conn:
        latest = conn.execute("SELECT rate::text, revisions FROM observation_detail"
                              " WHERE currency = 'KZT' AND revision_rank = 1").fetchone()
    assert latest == ("0.00195", 2)


def test_a_304_is_a_success_that_stores_nothing(httpserver: HTTPServer, db_url: str) -> None:
    allow_all(httpserver)
    etag = '"ticker-1"'

    def handler(request: Request) -> Response:
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return Response(html_page(), content_type="text/html", headers={"ETag": etag})

    httpserver.expect_request("/").respond_with_handler(handler)
    url = httpserver.url_for("/")
    scraper = Scraper(db_url, config(url))
    scraper.run()
    second = scraper.run()
    scraper.close()
    assert second.status == "ok"
    assert [(r.status, r.http_status, r.new) for r in second.results] == [("not_modified", 304, 0)]
    later = runs(db_url)[1]
    assert source_runs(db_url, later[0]) == {url: ("not_modified", 304, 0, 0, None)}
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT etag FROM source_state WHERE source = %s", (url,)).fetchone() == (etag,)
        assert conn.execute("SELECT sum(sightings) FROM observation").fetchone() == (5,)


def test_a_bad_page_keeps_no_validators(httpserver: HTTPServer, db_url: str) -> None:
    allow_all(httpserver)
    httpserver.expect_request("/").respond_with_data("<html><body>No ticker today</body></html>",
                                                     content_type="text/html", headers={"ETag": '"bad"'})
    scraper = Scraper(db_url, config(httpserver.url_for("/")))
    scraper.run()
    scraper.run()
    scraper.close()
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM source_state").fetchone() == (0,)
    # Fetched whole both times: no If-None-Match was ever sent.
    assert all("If-None-Match" not in r.headers for r, _ in httpserver.log)


def test_a_page_without_a_date_takes_the_fetch_day_in_site_time(httpserver: HTTPServer, db_url: str) -> None:
    allow_all(httpserver)
    url = serve(httpserver, "/", date=None)
    scraper = Scraper(db_url, config(url))
    [result] = scraper.run().results
    scraper.close()
    assert result.rate_date == dt.datetime.now(ALMATY).date()


def test_the_declared_charset_is_used(httpserver: HTTPServer, db_url: str) -> None:
    allow_all(httpserver)
    httpserver.expect_request("/").respond_with_data(text_page().encode("utf-16"),
                                                     content_type="text/plain; charset=utf-16")
    scraper = Scraper(db_url, config(httpserver.url_for("/")))
    [result] = scraper.run().results
    scraper.close()
    assert (result.status, result.new) == ("ok", 5)


def test_file_sources_are_scraped_too(tmp_path: Path, db_url: str) -> None:
    page = tmp_path / "saved.html"
    page.write_text(html_page(), encoding="utf-8")
    scraper = Scraper(db_url, config(str(page), str(tmp_path / "missing.html")))
    record = scraper.run()
    scraper.close()
    assert [(r.status, r.new) for r in record.results] == [("ok", 5), ("failed", 0)]
    assert "No such file" in str(record.results[1].error)


def test_faulty_sources_fail_alone(httpserver: HTTPServer, faults_url: str) -> None:
    allow_all(httpserver)
    good = serve(httpserver, "/good", "0.00193")
    httpserver.expect_request("/broken").respond_with_data("internal error", status=500)
    httpserver.expect_request("/garbage").respond_with_data(bytes(range(256)) * 20,
                                                            content_type="application/octet-stream")
    httpserver.expect_request("/plain").respond_with_data(
        html_page(quotes("0.00193")).split('<ul class="ticker">')[0] + "<p>Quiet day</p></html>",
        content_type="text/html")
    other = serve(httpserver, "/other", "0.00194")
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        slow = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        broken, garbage, plain = (httpserver.url_for(p) for p in ("/broken", "/garbage", "/plain"))
        scraper = Scraper(faults_url, config(good, broken, slow, garbage, plain, other))
        record = scraper.run()
        scraper.close()
    assert record.status == "failed"
    [(run_id, status, _, total, failed, _, _, _)] = runs(faults_url)
    assert (status, total, failed) == ("failed", 6, 4)
    rows = source_runs(faults_url, run_id)
    assert rows[good] == ("ok", 200, 5, 0, None)
    assert rows[other] == ("ok", 200, 1, 4, None)
    assert rows[broken][:2] == ("failed", 500) and "HTTP 500 (after 2 attempts)" in str(rows[broken][4])
    assert rows[slow][:2] == ("failed", None) and "timed out" in str(rows[slow][4])
    assert rows[garbage][:2] == ("failed", 200) and rows[garbage][4]
    assert rows[plain][:2] == ("failed", 200) and rows[plain][4]
    assert kzt_rates(faults_url) == ["0.00193", "0.00194"]


def test_a_malformed_source_url_fails_alone_and_the_run_is_closed(httpserver: HTTPServer,
                                                                  db_url: str) -> None:
    allow_all(httpserver)
    good = serve(httpserver, "/good")
    scraper = Scraper(db_url, config("https://host:abc/", "https://[::1/", good))
    try:
        record = scraper.run()
    finally:
        scraper.close()
    [(run_id, status, _, total, failed, _, finished, _)] = runs(db_url)
    assert (status, total, failed, finished) == ("failed", 3, 2, True)
    assert record.status == "failed"
    rows = source_runs(db_url, run_id)
    assert rows["https://host:abc/"][0] == "failed"
    assert "not an http(s) URL with a valid host and port" in str(rows["https://host:abc/"][4])
    assert rows["https://[::1/"][0] == "failed"
    assert rows[good] == ("ok", 200, 5, 0, None)


def test_database_down_at_the_start_is_recorded_when_it_is_back(httpserver: HTTPServer,
                                                                faults_cluster: cluster.EmbeddedCluster,
                                                                faults_url: str) -> None:
    allow_all(httpserver)
    url = serve(httpserver, "/")
    scraper = Scraper(faults_url, config(url))
    faults_cluster.stop()
    down = scraper.run()
    assert down.status == "failed" and down.database_error and down.run_id is None
    assert "database unreachable" in str(down.error)
    assert scraper.pending == [down]
    faults_cluster.start()
    back = scraper.run()
    scraper.close()
    assert back.status == "ok" and scraper.pending == []
    recorded = runs(faults_url)
    assert [(r[1], r[3], r[4]) for r in recorded] == [("failed", 1, 0), ("ok", 1, 0)]
    assert "database unreachable" in str(recorded[0][5])
    assert source_runs(faults_url, recorded[0][0]) == {}
    assert source_runs(faults_url, recorded[1][0]) == {url: ("ok", 200, 5, 0, None)}


def test_database_dropping_mid_run_leaves_no_half_page_and_is_recorded_later(
        httpserver: HTTPServer, faults_cluster: cluster.EmbeddedCluster, faults_url: str) -> None:
    allow_all(httpserver)
    first = serve(httpserver, "/first", "0.00193")
    page = html_page(quotes("0.00194"))
    stopped = []

    def stop_the_database_then_answer(_request: Request) -> Response:
        if not stopped:
            faults_cluster.stop()
            stopped.append(True)
        return Response(page, content_type="text/html")

    httpserver.expect_request("/second").respond_with_handler(stop_the_database_then_answer)
    second = httpserver.url_for("/second")
    third = serve(httpserver, "/third", "0.00195")
    scraper = Scraper(faults_url, config(first, second, third))
    broken = scraper.run()
    assert broken.status == "failed" and broken.database_error
    assert [(r.source, r.status) for r in broken.results] == [(first, "ok"), (second, "failed")]
    assert "database unreachable mid-run" in str(broken.error)
    assert scraper.pending == [broken]

    faults_cluster.start()
    # The first page committed before the outage; nothing of the second did.
    assert kzt_rates(faults_url) == ["0.00193"]
    healed = scraper.run()
    scraper.close()
    assert healed.status == "ok" and scraper.pending == []
    (old_id, *old), (_, *new) = runs(faults_url)
    assert old[:4] == ["failed", "manual", 3, 1] and "database unreachable mid-run" in str(old[4])
    assert source_runs(faults_url, old_id)[first] == ("ok", 200, 5, 0, None)
    assert source_runs(faults_url, old_id)[second][0] == "failed"
    assert third not in source_runs(faults_url, old_id)
    assert new[:4] == ["ok", "manual", 3, 0]
    assert kzt_rates(faults_url) == ["0.00193", "0.00194", "0.00195"]


def fx(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fxticker", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def scrape_env(url: str, sources: list[str], tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_READ_URL"}
    env.update(DATABASE_URL=url, FXTICKER_SOURCES=",".join(sources), FXTICKER_DATA_DIR=str(tmp_path / "x"),
               FXTICKER_FETCH_ATTEMPTS="1", FXTICKER_FETCH_TIMEOUT="2", FXTICKER_RETRY_BACKOFF="0")
    return env


def test_scrape_command_prints_a_line_per_source_and_exits_by_outcome(httpserver: HTTPServer, db_url: str,
                                                                      tmp_path: Path) -> None:
    allow_all(httpserver)
    good = serve(httpserver, "/good")
    httpserver.expect_request("/broken").respond_with_data("no", status=503)
    ok = fx(scrape_env(db_url, [good], tmp_path), "scrape")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines() == [f"ok            {good} HTTP 200: 2025-12-19, 5 new, 0 duplicate"]
    broken = httpserver.url_for("/broken")
    mixed = fx(scrape_env(db_url, [good, broken], tmp_path), "scrape")
    assert mixed.returncode == 1
    lines = mixed.stdout.splitlines()
    assert lines[0] == f"ok            {good} HTTP 200: 2025-12-19, 0 new, 5 duplicate"
    assert lines[1] == f"failed        {broken} HTTP 503: HTTP 503 (after 1 attempt)"
    assert "Traceback" not in mixed.stderr


def test_scrape_command_with_the_database_stopped(httpserver: HTTPServer,
                                                  faults_cluster: cluster.EmbeddedCluster,
                                                  faults_url: str, tmp_path: Path) -> None:
    allow_all(httpserver)
    faults_cluster.stop()
    try:
        result = fx(scrape_env(faults_url, [serve(httpserver, "/")], tmp_path), "scrape")
    finally:
        faults_cluster.start()
    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("fxticker: cannot reach the database:")
    assert httpserver.log == []  # nothing fetched that could not be stored
