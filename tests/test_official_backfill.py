"""`fxticker backfill` fetches the official rates of the days its range of stored quotes covers."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys

import psycopg
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.bank_answers import BANKS
from tests.fix_archive import ORIGINAL, FakeArchive
from tests.fix_scrape import quotes
from tests.pages import html_page


def _dated(name: str, old: bytes, new: bytes) -> Response:
    return Response((BANKS / name).read_bytes().replace(old, new), content_type="application/xml")


def nbk(request: Request) -> Response:
    day = request.args["fdate"]
    return _dated("nbk-2026-04-01.xml", b"<date>01.04.2026</date>", f"<date>{day}</date>".encode())


def cbu(request: Request) -> Response:
    day = dt.date.fromisoformat(request.path.rstrip("/").rsplit("/", 1)[1])
    return _dated("cbu-2026-04-01.json", b'"Date":"01.04.2026"', f'"Date":"{day:%d.%m.%Y}"'.encode())


def nbt(request: Request) -> Response:
    return _dated("nbt-2026-05-18.xml", b'Date="2026-05-18"', f'Date="{request.args["date"]}"'.encode())


def nbkr(request: Request) -> Response:
    a = request.args
    since = dt.date(int(a["beg_year"]), int(a["beg_month"]), int(a["beg_day"]))
    until = dt.date(int(a["end_year"]), int(a["end_month"]), int(a["end_day"]))
    rows = "".join(f"<tr><td><!--date-->{since + dt.timedelta(days=n):%d.%m.%Y}<!--date--></td>"
                   f"<td><!--value-->87,4500<!--value--></td></tr>" for n in range((until - since).days + 1))
    return Response(f"<table>{rows}</table>", content_type="text/html")


@pytest.fixture
def banks_and_archive(httpserver: HTTPServer, env: dict[str, str]) -> tuple[FakeArchive, dict[str, str]]:
    httpserver.expect_request("/rss/get_rates.cfm").respond_with_handler(nbk)
    httpserver.expect_request(re.compile("^/en/arkhiv-kursov-valyut/json/all/")).respond_with_handler(cbu)
    httpserver.expect_request("/en/kurs/export_xml.php").respond_with_handler(nbt)
    httpserver.expect_request("/index1.jsp").respond_with_handler(nbkr)
    fake = FakeArchive(httpserver, page_size=3)
    origin = httpserver.url_for("/").rstrip("/")
    banks = ",".join(f"{key}={origin}" for key in ("nbk", "cbu", "nbkr", "nbt"))
    return fake, {**env, "FXTICKER_ARCHIVE_URL": fake.url, "FXTICKER_ARCHIVE_DELAY": "0",
                  "FXTICKER_SOURCES": ORIGINAL, "FXTICKER_OFFICIAL_PAUSE": "0",
                  "FXTICKER_OFFICIAL_ORIGINS": banks}


def test_backfill_then_fetches_official_rates_for_the_days_of_the_quotes(
        banks_and_archive: tuple[FakeArchive, dict[str, str]], conn: psycopg.Connection) -> None:
    fake, env = banks_and_archive
    for day in (18, 19):  # Monday and Tuesday
        fake.add(f"202605{day}100000", html_page(quotes("0.00209"), date=f"{day} May 2026"))
    result = subprocess.run([sys.executable, "-m", "fxticker", "backfill", "--since", "2026-05-01"], env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    official = [line for line in result.stderr.splitlines() if line.startswith("official ")]
    # A week before the first quote, for the check's 7-day reach, to the last quote.
    assert [line.split(":")[0] for line in official] == [
        f"official ok     {key:<5} 2026-05-11..2026-05-19" for key in ("nbk", "cbu", "nbkr", "nbt", "peg")]
    counts = {row[0]: row[1] for row in conn.execute(
        "SELECT provider, count(*) FROM official_rate GROUP BY provider")}
    # Weekdays only where the bank has no weekend rates; every day for NBKR (it dates its own) and the peg.
    assert counts == {"nbk": 7, "cbu": 7, "nbt": 7, "nbkr": 9, "peg": 9}
    assert conn.execute("SELECT DISTINCT trigger FROM official_run").fetchall() == [("backfill",)]
    # Every quote now carries its check.
    checks = conn.execute("SELECT currency, official_check FROM observation_checked"
                          " WHERE currency = 'KZT' ORDER BY rate_date").fetchall()
    assert checks == [("KZT", "agrees"), ("KZT", "agrees")]


def test_backfill_without_official_rates_and_with_no_quotes_in_range(
        banks_and_archive: tuple[FakeArchive, dict[str, str]], conn: psycopg.Connection) -> None:
    fake, env = banks_and_archive
    fake.add("20260518100000", html_page(quotes("0.00209"), date="18 May 2026"))
    result = subprocess.run([sys.executable, "-m", "fxticker", "backfill", "--no-official"], env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0 and "official" not in result.stderr
    result = subprocess.run([sys.executable, "-m", "fxticker", "backfill", "--since", "2026-06-01"], env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0
    assert "official rates: no stored quotes in the range, nothing to fetch" in result.stderr
    assert conn.execute("SELECT count(*) FROM official_rate").fetchone() == (0,)
