"""Fetching official rates from a real local server that serves the banks' real answers, and storing them."""

from __future__ import annotations

import datetime as dt
import http.server
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
from pytest_httpserver import HTTPServer

from fxticker.collect.fetcher import FetchPolicy
from fxticker.official import rate_store
from fxticker.official.bank_runs import OfficialConfig, OfficialRun, run
from fxticker.official.banks import PROVIDERS
from fxticker.storage import data_version
from tests.bank_answers import BANKS

FAST = FetchPolicy(timeout=0.5, connect_timeout=0.5, attempts=2, backoff=0.01, max_wait=0.1)
HTML_ERROR = b"<!DOCTYPE html><html><body><h1>Internal error</h1><p>Try again later</p></body></html>"


def served(name: str) -> bytes:
    return (BANKS / name).read_bytes()


@pytest.fixture
def bank(httpserver: HTTPServer) -> HTTPServer:
    return httpserver


class KeepAliveBank(http.server.BaseHTTPRequestHandler):
    """NBT's answers over HTTP/1.1 keep-alive, counting connections (werkzeug closes every one)."""

    protocol_version = "HTTP/1.1"
    connections: ClassVar[list[int]] = []

    def setup(self) -> None:
        super().setup()
        self.connections.append(self.client_address[1])

    def do_GET(self) -> None:
        day = parse_qs(urlsplit(self.path).query).get("date", [""])[0]
        data = served(f"nbt-{day}.xml")
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args: object) -> None:
        pass


def test_one_connection_is_reused_for_a_bank(db_url: str) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), KeepAliveBank)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        record = fetch(db_url, ["nbt"], dt.date(2026, 5, 18), dt.date(2026, 5, 19),
                       {"nbt": f"http://127.0.0.1:{server.server_address[1]}"})
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert record.outcomes[0].saved.new == 2
    assert len(KeepAliveBank.connections) == 1


def serve_banks(server: HTTPServer) -> None:
    for day in ("01", "02"):
        server.expect_request("/rss/get_rates.cfm", query_string=f"fdate={day}.04.2026").respond_with_data(
            served(f"nbk-2026-04-{day}.xml"), content_type="application/xml")
        server.expect_request(f"/en/arkhiv-kursov-valyut/json/all/2026-04-{day}/").respond_with_data(
            served(f"cbu-2026-04-{day}.json"), content_type="application/json")
    # Friday 3 April answered with Thursday's rates, as a bank does on a holiday.
    server.expect_request("/rss/get_rates.cfm", query_string="fdate=03.04.2026").respond_with_data(
        served("nbk-2026-04-02.xml"), content_type="application/xml")
    server.expect_request("/en/arkhiv-kursov-valyut/json/all/2026-04-03/").respond_with_data(
        served("cbu-2026-04-02.json"), content_type="application/json")
    for day in ("18", "19"):
        server.expect_request("/en/kurs/export_xml.php",
                              query_string=f"date=2026-05-{day}&export=xmlout").respond_with_data(
            served(f"nbt-2026-05-{day}.xml"), content_type="application/xml")
    # NBT answers a day it lacks with today's rates, dated today.
    server.expect_request("/en/kurs/export_xml.php", query_string="date=2026-05-20&export=xmlout") \
        .respond_with_data(served("nbt-2026-05-19.xml"), content_type="application/xml")
    server.expect_request("/XML/daily.xml").respond_with_data(served("nbkr-daily-2026-05-24.xml"),
                                                              content_type="application/xml")


def config(origins: dict[str, str], pause: float = 0.01) -> OfficialConfig:
    return OfficialConfig(origins=origins, policy=FAST, max_bytes=10**6, pause=pause)


def stored(url: str) -> list[tuple[str, str, str, str, str, bool]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT provider, rate_date::text, currency, per_usd::text, published,"
                            " source IS NOT NULL FROM official_rate ORDER BY provider, rate_date").fetchall()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def fetch(url: str, keys: list[str], since: dt.date, until: dt.date, origins: dict[str, str],
          slept: list[float] | None = None, today: dt.date = dt.date(2026, 11, 30)) -> OfficialRun:
    return run(url, [PROVIDERS[k] for k in keys], since, until, today=today, config=config(origins),
               sleep=(slept if slept is not None else []).append)


def test_weekdays_are_asked_and_stored_once_weekends_not_asked(db_url: str, bank: HTTPServer) -> None:
    serve_banks(bank)
    origin = bank.url_for("/").rstrip("/")
    slept: list[float] = []
    # Wednesday 1 April to Sunday 5 April.
    record = fetch(db_url, ["nbk", "cbu"], dt.date(2026, 4, 1), dt.date(2026, 4, 5),
                   {"nbk": origin, "cbu": origin}, slept)
    assert record.ok, record.outcomes
    assert stored(db_url) == [
        ("cbu", "2026-04-01", "UZS", "12194.21", "12194.21", True),
        ("cbu", "2026-04-02", "UZS", "12142.10", "12142.10", True),
        ("nbk", "2026-04-01", "KZT", "478.77", "478.77", True),
        ("nbk", "2026-04-02", "KZT", "475.09", "475.09", True),
    ]
    asked = [(req.path, req.query_string.decode()) for req, _ in bank.log]
    assert not any("04.04." in q or "05.04." in q or "2026-04-0" + d in p
                   for p, q in asked for d in "45"), asked
    assert len(asked) == 6
    # A pause before every request to a bank but its first; no retries were needed.
    assert slept == [0.01] * 4
    by_key = {o.provider: o for o in record.outcomes}
    assert (by_key["nbk"].saved, by_key["nbk"].days_refused, by_key["nbk"].requests) == (
        rate_store.Saved(new=2), 1, 3)


def test_fetching_again_stores_nothing_new_and_a_correction_replaces(db_url: str, bank: HTTPServer) -> None:
    serve_banks(bank)
    origin = bank.url_for("/").rstrip("/")
    first = fetch(db_url, ["nbt"], dt.date(2026, 5, 18), dt.date(2026, 5, 19), {"nbt": origin})
    assert first.outcomes[0].saved == rate_store.Saved(new=2)
    with psycopg.connect(db_url) as conn:
        version = data_version.current(conn)
    again = fetch(db_url, ["nbt"], dt.date(2026, 5, 18), dt.date(2026, 5, 19), {"nbt": origin})
    assert again.outcomes[0].saved == rate_store.Saved(same=2)
    bank.clear()
    bank.expect_request("/en/kurs/export_xml.php", query_string="date=2026-05-19&export=xmlout") \
        .respond_with_data(served("nbt-2026-05-19.xml").replace(b">9.3371<", b">9.3372<"))
    corrected = fetch(db_url, ["nbt"], dt.date(2026, 5, 19), dt.date(2026, 5, 19), {"nbt": origin})
    assert corrected.outcomes[0].saved == rate_store.Saved(changed=1)
    assert [row[3] for row in stored(db_url)] == ["9.3450", "9.3372"]
    with psycopg.connect(db_url) as conn:
        after = data_version.current(conn)
    assert after > version


def test_nbt_answering_today_for_an_unknown_day_gives_no_row(db_url: str, bank: HTTPServer) -> None:
    serve_banks(bank)
    origin = bank.url_for("/").rstrip("/")
    record = fetch(db_url, ["nbt"], dt.date(2026, 5, 19), dt.date(2026, 5, 20), {"nbt": origin})
    [outcome] = record.outcomes
    assert (outcome.status, outcome.saved.new, outcome.days_refused) == ("ok", 1, 1)
    assert [row[1] for row in stored(db_url)] == ["2026-05-19"]


def test_a_bank_down_or_answering_garbage_fails_its_own_part_only(db_url: str, bank: HTTPServer) -> None:
    serve_banks(bank)
    bank.expect_request("/en/kurs/export_xml.php", query_string="date=2026-05-21&export=xmlout") \
        .respond_with_data(HTML_ERROR, content_type="text/html")
    origin = bank.url_for("/").rstrip("/")
    with socket.socket() as silent:  # accepts connections (the kernel's backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        dead = f"http://127.0.0.1:{silent.getsockname()[1]}"
        record = fetch(db_url, ["nbt", "cbu", "peg"], dt.date(2026, 5, 19), dt.date(2026, 5, 21),
                       {"nbt": origin, "cbu": dead})
    by_key = {o.provider: o for o in record.outcomes}
    assert not record.ok
    assert by_key["cbu"].status == "failed"
    assert "timed out (ReadTimeout) (after 2 attempts)" in (by_key["cbu"].error or "")
    # The bank is down: asked once (with its retries), not once per day.
    assert by_key["cbu"].requests == 1
    assert by_key["nbt"].status == "failed"
    assert by_key["nbt"].error == (f"{origin}/en/kurs/export_xml.php?date=2026-05-21&export=xmlout: "
                                   "not NBT ValCurs XML (root element <html>)")
    # What NBT answered well is kept; 20 May was today's copy; the peg needed nobody.
    assert (by_key["nbt"].saved.new, by_key["nbt"].days_refused) == (1, 1)
    assert by_key["peg"].status == "ok"
    assert {(row[0], row[1]) for row in stored(db_url)} == {
        ("nbt", "2026-05-19"), ("peg", "2026-05-19"), ("peg", "2026-05-20"), ("peg", "2026-05-21")}
    with psycopg.connect(db_url) as conn:
        run_row = conn.execute("SELECT status, trigger, error, finished_at IS NOT NULL FROM official_run"
                               " WHERE id = %s", (record.run_id,)).fetchone()
        parts = conn.execute("SELECT provider, status, rates_new, days_refused FROM official_run_provider"
                             " WHERE run_id = %s ORDER BY provider", (record.run_id,)).fetchall()
    assert run_row == ("failed", "manual", "failed: nbt, cbu", True)
    assert parts == [("cbu", "failed", 0, 0), ("nbt", "failed", 1, 1), ("peg", "ok", 3, 0)]


def test_nbkr_reads_its_history_and_the_daily_feed(db_url: str, bank: HTTPServer) -> None:
    bank.expect_request("/index1.jsp", query_string=(
        "item=1562&lang=ENG&valuta_id=15&beg_day=01&beg_month=06&beg_year=2005"
        "&end_day=30&end_month=06&end_year=2005")).respond_with_data(served("nbkr-history-usd-2005-06.html"))
    origin = bank.url_for("/").rstrip("/")
    record = fetch(db_url, ["nbkr"], dt.date(2005, 6, 1), dt.date(2005, 6, 30), {"nbkr": origin})
    assert record.ok, record.outcomes
    assert [row[1:4] for row in stored(db_url)] == [
        ("2005-06-04", "KGS", "40.9879"), ("2005-06-11", "KGS", "41.0511"),
        ("2005-06-18", "KGS", "41.0685"), ("2005-06-25", "KGS", "40.9614")]
    assert stored(db_url)[0][4] == "40,9879"
    # Today (Saturday 23 May): the history of today, then daily.xml, dated tomorrow as NBKR publishes.
    bank.expect_request("/index1.jsp", query_string=(
        "item=1562&lang=ENG&valuta_id=15&beg_day=23&beg_month=05&beg_year=2026"
        "&end_day=23&end_month=05&end_year=2026")).respond_with_data(served("nbkr-history-usd-2005-06.html"))
    bank.expect_request("/XML/daily.xml").respond_with_data(served("nbkr-daily-2026-05-24.xml"))
    record = fetch(db_url, ["nbkr"], dt.date(2026, 5, 23), dt.date(2026, 5, 24), {"nbkr": origin},
                   today=dt.date(2026, 5, 23))
    # The history server ignored the range asked: that answer is refused as invalid, daily.xml kept.
    [outcome] = record.outcomes
    assert outcome.status == "failed" and "outside the range asked" in (outcome.error or "")
    assert outcome.saved.new == 1
    assert ("nbkr", "2026-05-24", "KGS", "87.4500", "87,4500", True) in stored(db_url)


def test_cli_fetch_and_ingest(db_url: str, env: dict[str, str], bank: HTTPServer, tmp_path: Path) -> None:
    serve_banks(bank)
    origin = bank.url_for("/").rstrip("/")
    env = env | {"FXTICKER_OFFICIAL_ORIGINS": f"nbt={origin}, nbk={origin}", "FXTICKER_OFFICIAL_PAUSE": "0"}
    done = subprocess.run([sys.executable, "-m", "fxticker", "official", "fetch", "--provider", "nbt",
                           "--since", "2026-05-18", "--until", "2026-05-20"],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "ok     nbt   2026-05-18..2026-05-20: 2 new, 0 changed, 0 unchanged, 1 answered for another day,"
        " 3 request(s)"]
    bad = tmp_path / "nbk.html"
    bad.write_bytes(HTML_ERROR)
    done = subprocess.run([sys.executable, "-m", "fxticker", "official", "ingest", "nbk",
                           str(BANKS / "nbk-2026-04-01.xml"), str(bad)],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"rejected {bad}: not NBK rates XML (root element <html>)",
                                        "1 new, 0 changed, 0 unchanged"]
    assert ("nbk", "2026-04-01", "KZT", "478.77", "478.77", True) in stored(db_url)


@pytest.mark.parametrize(("args", "setting", "message"), [
    (["--since", "2026-05-20", "--until", "2026-05-18"], "",
     "--since 2026-05-20 is after --until 2026-05-18"),
    (["--provider", "xyz"], "", "'xyz' is not an official-rate provider (known: nbk, cbu, nbkr, nbt, peg)"),
    ([], "nbk=ftp://x", "FXTICKER_OFFICIAL_ORIGINS='nbk=ftp://x': 'ftp://x' is not an origin such as https://"),
    ([], "bogus=http://127.0.0.1:1", "'bogus=http://127.0.0.1:1' is not KEY=URL with KEY one of nbk, cbu"),
    (["--until", "2999-01-01"], "", "--until 2999-01-01 is after tomorrow"),
])
def test_cli_fetch_refuses_bad_input_in_one_line(env: dict[str, str], args: list[str], setting: str,
                                                 message: str) -> None:
    env = env | {"FXTICKER_OFFICIAL_ORIGINS": setting}
    done = subprocess.run([sys.executable, "-m", "fxticker", "official", "fetch", *args],
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith("fxticker: ") and message in line



def test_nbkr_history_is_asked_a_year_at_a_time(db_url: str, bank: HTTPServer) -> None:
    bank.expect_request("/index1.jsp").respond_with_data("<html><body>no table</body></html>")
    origin = bank.url_for("/").rstrip("/")
    record = fetch(db_url, ["nbkr"], dt.date(2023, 1, 1), dt.date(2024, 12, 31), {"nbkr": origin})
    spans = [(q["beg_year"] + q["beg_month"] + q["beg_day"], q["end_year"] + q["end_month"] + q["end_day"])
             for q in (req.args for req, _ in bank.log)]
    assert spans == [("20230101", "20231231"), ("20240101", "20241230"), ("20241231", "20241231")]
    # A page without the rate table is an error named by its URL, for each request.
    assert record.outcomes[0].status == "failed"
    assert "no <!--date--> ... <!--value--> rows" in (record.outcomes[0].error or "")
