"""Which bank answers are believed: dates the bank can have published, rates no currency has had, a rate
far from the stored ones (unless forced), JSON nested to crash a parser. A refused answer is one line with
its reason, counted, and stores nothing; the other providers of the run go on."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from pytest_httpserver import HTTPServer

from fxticker.collect.fetcher import FetchPolicy
from fxticker.official import plausible
from fxticker.official.answers import OfficialError, parse
from fxticker.official.bank_runs import OfficialConfig, run
from fxticker.official.banks import PROVIDERS
from tests.bank_answers import BANKS

FAST = FetchPolicy(timeout=2, connect_timeout=1, attempts=1, backoff=0.01, max_wait=0.1)


def nbk(day: str, value: str, quant: str = "1") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><rates><date>{day}</date><item><title>USD</title>'
            f"<description>{value}</description><quant>{quant}</quant></item></rates>").encode()


def official(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fxticker", "official", *args], env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def saved(tmp_path: Path, name: str, body: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(body)
    return str(path)


def kzt(db_url: str) -> list[tuple[str, str]]:
    with psycopg.connect(db_url) as conn:
        return [(str(d), str(v)) for d, v in conn.execute(
            "SELECT rate_date, per_usd FROM official_rate WHERE provider = 'nbk' ORDER BY rate_date")]


@pytest.mark.parametrize(("day", "reason"), [
    ("31.12.2999", "dated 2999-12-31, after "),
    ("01.01.1900", "dated 1900-01-01, before nbk's first rate (2000-01-01): not believed"),
])
def test_an_answer_dated_from_nowhere_is_refused_and_stores_nothing(env: dict[str, str], db_url: str,
                                                                    tmp_path: Path, day: str,
                                                                    reason: str) -> None:
    path = saved(tmp_path, "nbk.xml", nbk(day, "518.13"))
    for command in ("parse", "ingest"):
        result = official([command, "nbk", path], env)
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        assert reason in result.stderr
    assert kzt(db_url) == []


@pytest.mark.parametrize(("value", "quant"), [("0.000000000001", "1000"), ("999999999999.99", "1")])
def test_a_rate_no_currency_has_had_is_refused_even_when_forced(value: str, quant: str) -> None:
    with pytest.raises(OfficialError, match=r"KZT per USD, outside 0\.001 to 1,000,000: not believed"):
        parse("nbk", nbk("01.04.2026", value, quant))


def test_a_rate_far_from_the_stored_one_is_refused_unless_forced(env: dict[str, str], db_url: str,
                                                                 tmp_path: Path) -> None:
    good = saved(tmp_path, "good.xml", nbk("01.04.2026", "518.13"))
    slip = saved(tmp_path, "slip.xml", nbk("01.04.2026", "0.51813"))
    next_day = saved(tmp_path, "next.xml", nbk("02.04.2026", "5181.3"))
    assert official(["ingest", "nbk", good], env).returncode == 0
    for path in (slip, next_day):
        result = official(["ingest", "nbk", path], env)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert "is more than 5 times away from 518.13 of 2026-04-01 (stored): not believed" in result.stderr
    assert kzt(db_url) == [("2026-04-01", "518.13")]
    forced = official(["ingest", "--force", "nbk", slip], env)
    assert forced.returncode == 0, forced.stderr
    assert kzt(db_url) == [("2026-04-01", "0.51813")]


def test_a_slip_within_one_answer_is_refused(conn: psycopg.Connection) -> None:
    rates = parse("nbk", nbk("01.04.2026", "518.13")) + parse("nbk", nbk("02.04.2026", "51.813"))
    assert plausible.doubt(conn, rates) == (
        "nbk 2026-04-02: 51.813 KZT per USD is more than 5 times away from 518.13 of 2026-04-01 (in the same "
        "answer): not believed (--force stores it)")
    assert plausible.doubt(conn, rates[:1]) is None


def test_a_fetched_rate_far_from_the_stored_one_fails_its_provider_and_stores_nothing(
        httpserver: HTTPServer, db_url: str) -> None:
    httpserver.expect_request("/rss/get_rates.cfm", query_string="fdate=01.04.2026").respond_with_data(
        nbk("01.04.2026", "518.13"))
    origins = {"nbk": httpserver.url_for("").rstrip("/")}
    config = OfficialConfig(origins=origins, policy=FAST, max_bytes=10**6, pause=0)
    day = dt.date(2026, 4, 1)
    assert run(db_url, [PROVIDERS["nbk"]], day, day, today=day, config=config).ok
    httpserver.clear()
    httpserver.expect_request("/rss/get_rates.cfm", query_string="fdate=01.04.2026").respond_with_data(
        nbk("01.04.2026", "0.51813"))
    record = run(db_url, [PROVIDERS["nbk"]], day, day, today=day, config=config)
    [outcome] = record.outcomes
    assert outcome.status == "failed" and outcome.error is not None
    assert outcome.error.endswith("0.51813 KZT per USD is more than 5 times away from 518.13 of 2026-04-01 "
                                  "(stored): not believed (--force stores it)")
    assert kzt(db_url) == [("2026-04-01", "518.13")]
    assert run(db_url, [PROVIDERS["nbk"]], day, day, today=day, config=config, force=True).ok
    assert kzt(db_url) == [("2026-04-01", "0.51813")]


def test_deeply_nested_cbu_json_is_one_line_and_the_other_providers_still_run(
        httpserver: HTTPServer, env: dict[str, str], db_url: str, tmp_path: Path) -> None:
    deep = b"[" * 100_000
    result = official(["parse", "cbu", saved(tmp_path, "cbu.json", deep)], env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().endswith("not CBU JSON (nested too deeply)")
    # cbu comes before nbt in every run: nbt must still be asked.
    httpserver.expect_request("/en/arkhiv-kursov-valyut/json/all/2026-05-18/").respond_with_data(deep)
    httpserver.expect_request("/en/kurs/export_xml.php", query_string="date=2026-05-18&export=xmlout") \
        .respond_with_data((BANKS / "nbt-2026-05-18.xml").read_bytes(), content_type="application/xml")
    origin = httpserver.url_for("").rstrip("/")
    fetched = official(["fetch", "--provider", "cbu,nbt", "--since", "2026-05-18", "--until", "2026-05-18"],
                       {**env, "FXTICKER_OFFICIAL_ORIGINS": f"cbu={origin},nbt={origin}",
                        "FXTICKER_OFFICIAL_PAUSE": "0"})
    assert fetched.returncode == 1 and "Traceback" not in fetched.stderr
    lines = fetched.stdout.splitlines()
    assert lines[0].startswith("failed cbu") and lines[0].endswith("not CBU JSON (nested too deeply)")
    assert lines[1].startswith("ok     nbt   2026-05-18: 1 new")
