"""Credentials in a URL (a source's, the archive's) go with the request and nowhere else: never stored,
printed or served."""

from __future__ import annotations

import subprocess
import sys
import zoneinfo

import psycopg
import pytest
from pytest_httpserver import HTTPServer

from fxticker import settings
from fxticker.collect import backfill
from fxticker.collect.archive import ArchivePolicy
from fxticker.collect.backfill import BackfillConfig
from fxticker.collect.fetcher import FetchPolicy
from fxticker.inputs import without_credentials
from tests.fix_archive import ORIGINAL, FakeArchive
from tests.fix_scrape import allow_all, quotes
from tests.pages import html_page, text_page

SECRET = "hunter2"
FAST = FetchPolicy(timeout=2.0, connect_timeout=1.0, attempts=2, backoff=0.01, max_wait=0.1)


def with_secret(url: str) -> str:
    return url.replace("http://", f"http://fx:{SECRET}@", 1)


@pytest.mark.parametrize(("url", "bare"), [
    ("https://u:p@h/x", "https://h/x"), ("http://u@h:1/a@b", "http://h:1/a@b"), ("https://h/a@b", "https://h/a@b"),
    ("https://a:b@[::1/", "https://[::1/"), ("http://x:y@a/,HTTPS://c:p@ss@b/", "http://a/,HTTPS://b/"),
    ("/path/a@b", "/path/a@b"),
])
def test_without_credentials_takes_out_every_user_and_password(url: str, bare: str) -> None:
    assert without_credentials(url) == bare


def test_a_bad_source_setting_is_refused_without_its_password() -> None:
    with pytest.raises(settings.SettingError) as refused:
        settings.load({"FXTICKER_SOURCES": f"http://fx:{SECRET}@a/,ftp://b/"})
    assert SECRET not in str(refused.value) and "http://a/" in str(refused.value)


def test_a_scraped_source_keeps_its_password_out_of_the_output_and_the_database(
        httpserver: HTTPServer, env: dict[str, str], db_url: str) -> None:
    allow_all(httpserver)
    body = html_page(quotes("0.00193"), date="19 December 2025")
    httpserver.expect_request("/page").respond_with_data(body, content_type="text/html; charset=utf-8")
    httpserver.expect_request("/gone").respond_with_data("no", status=404)
    page, gone = with_secret(httpserver.url_for("/page")), with_secret(httpserver.url_for("/gone"))
    result = subprocess.run([sys.executable, "-m", "fxticker", "scrape"],
                            env={**env, "FXTICKER_SOURCES": f"{page},{gone}"},
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1, result.stderr  # the 404
    assert SECRET not in result.stdout + result.stderr
    assert httpserver.url_for("/page") in result.stdout
    # The requests did carry them.
    assert all(request.authorization is not None for request, _ in httpserver.log
               if request.path in ("/page", "/gone"))
    with psycopg.connect(db_url) as conn:
        stored = conn.execute(
            "SELECT string_agg(source || coalesce(error, ''), ' ') FROM scrape_source_run").fetchone()
        sources = conn.execute(
            "SELECT string_agg(first_source || last_source, ' ') FROM observation").fetchone()
        validators = conn.execute("SELECT string_agg(source, ' ') FROM source_state").fetchone()
    assert stored and stored[0] and SECRET not in stored[0]
    assert sources and sources[0] and SECRET not in sources[0]
    assert validators is None or validators[0] is None or SECRET not in validators[0]


def test_the_archives_password_is_sent_but_never_stored(httpserver: HTTPServer,
                                                       conn: psycopg.Connection) -> None:
    fake = FakeArchive(httpserver)
    fake.add("20230105093000", text_page(quotes("0.00211"), date="5 January 2023"),
             content_type="text/plain; charset=utf-8")
    policy = ArchivePolicy(base_url=with_secret(fake.url), delay=0.0, fetch=FAST)
    config = BackfillConfig(sources=(ORIGINAL,), tz=zoneinfo.ZoneInfo("Asia/Almaty"), max_bytes=10**6,
                            policy=policy)
    _, summary = backfill.backfill(conn, config, [ORIGINAL], None, None)
    assert summary.stored == 1, summary
    assert all(request.authorization is not None and request.authorization.password == SECRET
               for request, _ in httpserver.log)
    rows = conn.execute("SELECT archive || source FROM archive_capture"
                        " UNION ALL SELECT first_source || last_source FROM observation").fetchall()
    assert rows and all(SECRET not in row[0] for row in rows)
    assert all(row[0].startswith(fake.url) for row in rows)
