"""The dashboard with official rates: a second line per chart, flagged days, the suspect table, the latest
table's official rate and check; in the served page and in real Chromium."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib import resources

import psycopg
import pytest
from flask.testing import FlaskClient
from selenium import webdriver

from fxticker.collect.ingest import ingest_many
from tests.fix_browser import plotted, rendered, serving

# Official KZT rates made from the sample's own quotes: August agrees, the first September week is 20%
# away (suspect), the first October days 3% (differs).
_OFFICIAL = """
INSERT INTO official_rate (provider, currency, rate_date, per_usd, published, nominal, fetched_at, source)
SELECT 'nbk', 'KZT', rate_date, round(%(factor)s::numeric / rate, 2),
       round(%(factor)s::numeric / rate, 2)::text, 1, now(), 'test'
FROM daily_rate
WHERE currency = 'KZT' AND rate_date BETWEEN %(start)s AND %(end)s AND extract(isodow FROM rate_date) < 6
"""
SPANS = [("1", "2025-08-01", "2025-08-29"), ("0.8", "2025-09-01", "2025-09-05"),
         ("0.97", "2025-10-01", "2025-10-03")]
SUSPECT_DAYS = {f"2025-09-{n:02d}" for n in range(1, 13)}


def officials(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        for factor, start, end in SPANS:
            conn.execute(_OFFICIAL, {"factor": factor, "start": start, "end": end})


@pytest.fixture
def sample_with_officials(env: dict[str, str], db_url: str) -> None:
    ingest_many([str(resources.files("fxticker") / "samples")], None)
    officials(db_url)


def test_the_page_carries_the_official_rates_checks_and_suspects(client: FlaskClient,
                                                                   sample_with_officials: None) -> None:
    page = client.get("/?from=2025-08-01&to=2025-10-31").get_data(as_text=True)
    data = json.loads(re.search(r'<script type="application/json" id="fx-data">(.*?)</script>', page,
                                re.DOTALL)[1])  # type: ignore[index]
    kzt = next(c for c in data["currencies"] if c["code"] == "KZT")
    official = kzt["official"]
    assert official["ox"][0] == "2025-08-01" and len(official["ox"]) == 21 + 5 + 3
    assert all(300 < v < 700 for v in official["oy"])
    flagged = {kzt["x"][k]: (d, s) for k, d, s in zip(official["i"], official["differs"], official["suspect"],
                                                      strict=True)}
    # The days after carry Friday 5 September's official rate (7 days at most): flagged too.
    assert {day for day, (_, s) in flagged.items() if s} == SUSPECT_DAYS
    assert {day for day, (d, _) in flagged.items() if d} >= {"2025-10-01", "2025-10-02", "2025-10-03"}
    other = next(c for c in data["currencies"] if c["code"] == "UZS")
    assert other["official"]["ox"] == [] and other["official"]["i"] == []
    # The suspect table: the latest first, at most 20, only suspect KZT days.
    rows = re.findall(r'<tr data-currency="KZT">\s*<td>(2025-\d\d-\d\d)</td>', page)
    # Every suspect quote, revisions included (6 September was revised), the newest first.
    assert set(rows) == SUSPECT_DAYS and rows == sorted(rows, reverse=True) and len(rows) == 13
    assert '<section id="suspects">' in page


def test_the_latest_table_shows_the_official_rate_and_the_check(client: FlaskClient, env: dict[str, str],
                                                                db_url: str) -> None:
    ingest_many([str(resources.files("fxticker") / "samples")], None)
    with psycopg.connect(db_url) as conn:
        last = conn.execute("SELECT max(rate_date) FROM daily_rate WHERE currency = 'KZT'").fetchone()
        assert last is not None
        conn.execute(_OFFICIAL, {"factor": "1", "start": last[0], "end": last[0]})
        conn.execute(_OFFICIAL.replace("'nbk', 'KZT'", "'cbu', 'UZS'").replace("currency = 'KZT'",
                                                                               "currency = 'UZS'"),
                     {"factor": "0.5", "start": last[0], "end": last[0]})
    page = client.get("/").get_data(as_text=True)
    kzt = re.search(r'<tr data-currency="KZT">.*?</tr>', page, re.DOTALL)[0]  # type: ignore[index]
    assert re.search(r'<td class="check agrees"[^>]*>agrees \(-?0\.\d+%\)</td>', kzt), kzt
    assert "nbk" in kzt
    uzs = re.search(r'<tr data-currency="UZS">.*?</tr>', page, re.DOTALL)[0]  # type: ignore[index]
    assert re.search(r'<td class="check suspect"[^>]*>suspect \(100\.\d+%\)</td>', uzs), uzs
    tjs = re.search(r'<tr data-currency="TJS">.*?</tr>', page, re.DOTALL)[0]  # type: ignore[index]
    assert '<td class="check no_reference">no reference</td>' in tjs


@pytest.fixture
def official_server(env: dict[str, str], db_url: str, sample_with_officials: None) -> Iterator[str]:
    with serving(db_url) as base:
        yield base


@pytest.mark.slow
def test_charts_draw_the_official_line_and_flag_days_in_chromium(
        official_server: str, browser: webdriver.Chrome) -> None:
    browser.get(official_server + "/?currencies=KZT,UZS&from=2025-08-01&to=2025-10-31")
    rendered(browser, "each:usd_per_unit")
    traces = {t["name"]: t for t in plotted(browser, "chart-KZT")["traces"]}
    line = traces["official rate"]
    assert line["x"][0] == "2025-08-01" and len(line["x"]) == 29
    # Drawn as USD per unit, like the quotes: near the ticker's line in August.
    quotes = dict(zip(traces["Kazakh tenge"]["x"], traces["Kazakh tenge"]["y"], strict=True))
    assert line["y"][0] == pytest.approx(quotes["2025-08-01"], rel=0.01)
    assert traces["suspect"]["x"] == sorted(SUSPECT_DAYS)
    assert set(traces["differs from official"]["x"]) >= {"2025-10-01", "2025-10-02", "2025-10-03"}
    assert "official rate" not in {t["name"] for t in plotted(browser, "chart-UZS")["traces"]}
    browser.find_element("css selector", 'input[name="direction"][value="per_usd"]').click()
    rendered(browser, "each:per_usd")
    inverted = next(t for t in plotted(browser, "chart-KZT")["traces"] if t["name"] == "official rate")
    assert inverted["y"] == pytest.approx([1 / v for v in line["y"]], rel=1e-9)
    errors = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
    assert errors == []
