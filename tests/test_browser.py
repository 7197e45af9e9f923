"""The dashboard in a real headless Chromium, served by a live local server, on the bundled sample data."""

from __future__ import annotations

import datetime as dt
import urllib.request
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import psycopg
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from benchmarks import data
from fxticker.collect.ingest import ingest_many
from tests.fix_browser import plotted, rendered, serving

pytestmark = pytest.mark.slow

OUTPUT = Path(__file__).resolve().parent.parent / "test-output"
TEN_YEARS_END = dt.date(2024, 12, 31)
TEN_YEARS = (TEN_YEARS_END - dt.date(2015, 1, 1)).days + 1
REVISED_TMT_DAY = dt.date(2024, 12, 30)  # revised every third day: data.py's rule for the fifth currency
HOSTILE = '<img src=x onerror="alert(1)">'


@pytest.fixture
def live_server(env: dict[str, str], db_url: str) -> Iterator[str]:
    """The app on 127.0.0.1 with the bundled sample pages loaded, in a thread of this process."""
    ingest_many([str(resources.files("fxticker") / "samples")], None)
    with serving(db_url) as base:
        yield base


@pytest.fixture
def ten_years_server(env: dict[str, str], db_url: str) -> Iterator[str]:
    """The app over ten years of five currencies, a third of the days revised, one source hostile."""
    data.generate(db_url, data.currencies(5), TEN_YEARS, end=TEN_YEARS_END, revised_every=3)
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE observation SET last_source = %s WHERE currency = 'TMT' AND rate_date = %s",
                     (HOSTILE, REVISED_TMT_DAY))
    with serving(db_url) as base:
        yield base


def hover_text(driver: webdriver.Chrome, chart: str, day: str) -> str:
    """The text plotly shows on hovering the ring at day (ISO date) on the chart."""
    text: str = driver.execute_script(
        """
        const div = document.getElementById(arguments[0]);
        const curve = div.data.findIndex((t) => t.name === 'revised days');
        const point = Array.from(div.data[curve].x).indexOf(arguments[1]);
        if (point < 0) {
          return `no ring at ${arguments[1]}`;
        }
        Plotly.Fx.hover(div, [{curveNumber: curve, pointNumber: point}]);
        const text = Array.from(div.querySelectorAll('.hoverlayer .hovertext')).map((n) => n.textContent);
        Plotly.Fx.unhover(div);
        return text.join(' ');
        """,
        chart, day,
    )
    return text


def test_dashboard_in_chromium(live_server: str, browser: webdriver.Chrome) -> None:
    browser.get(live_server + "/")
    rendered(browser, "each:usd_per_unit")

    charts = browser.find_elements(By.CSS_SELECTOR, ".chart.each")
    assert [c.get_attribute("id") for c in charts] == [
        "chart-KGS", "chart-KZT", "chart-TJS", "chart-UZS", "chart-TMT"
    ]
    before = plotted(browser, "chart-KZT")
    assert before["svg"] >= 1
    sent = browser.execute_script("return JSON.parse(document.getElementById('fx-data').textContent)")
    kzt = next(c for c in sent["currencies"] if c["code"] == "KZT")
    line = next(t for t in before["traces"] if t["name"] == "Kazakh tenge")
    assert line["y"] == kzt["y"] and len(kzt["y"]) > 100
    values = [v for v in line["y"] if v is not None]
    assert all(0.0015 < v < 0.0025 for v in values)
    assert None in line["y"], "the sample leaves out a week in September: a gap"
    revised = next(t for t in before["traces"] if t["name"] == "revised days")
    assert revised["y"], "the sample has days with several revisions"
    assert browser.find_elements(By.ID, "daily-detail") == [], "the sample is short enough to be daily"

    OUTPUT.mkdir(exist_ok=True)
    browser.save_screenshot(str(OUTPUT / "dashboard.png"))

    # The range selector's "1m" zooms this chart, and the others follow; the CSV link takes the range.
    button = next(b for b in browser.find_elements(By.CSS_SELECTOR, "#chart-KZT .rangeselector .button")
                  if b.text == "1m")
    button.click()
    def ranges(d: webdriver.Chrome) -> list[list[str]]:
        return d.execute_script(  # type: ignore[no-any-return]
            "return Array.from(document.querySelectorAll('.chart.each')).map((d) => d.layout.xaxis.range);"
        )

    WebDriverWait(browser, 10).until(lambda d: len({tuple(r) for r in ranges(d)}) == 1
                                     and ranges(d)[0][0] > "2025-11", message="the charts' ranges differ")
    first, last = (dt.datetime.fromisoformat(v[:19]) for v in ranges(browser)[0])
    assert 28 <= (last - first).days <= 31
    download = browser.find_element(By.ID, "download-csv").get_attribute("href") or ""
    # The link's dates are the visible range, cut to the dates that have data.
    assert f"from={first:%Y-%m-%d}&to=2025-12-10" in download
    browser.find_element(By.CSS_SELECTOR, "#chart-KZT .rangeselector .button:last-of-type").click()

    # Hovering a revised day lists its revisions, latest first, each with its source.
    hover = hover_text(browser, "chart-KZT", revised["x"][0][:10])
    assert "revisions, latest first" in hover
    assert hover.count("from /") >= 2 and "sample-2025-" in hover

    browser.find_element(By.CSS_SELECTOR, 'input[name="direction"][value="per_usd"]').click()
    rendered(browser, "each:per_usd")
    after = plotted(browser, "chart-KZT")
    line = next(t for t in after["traces"] if t["name"] == "Kazakh tenge")
    inverted = [v for v in line["y"] if v is not None]
    assert inverted == pytest.approx([1 / v for v in values], rel=1e-4)
    assert after["ticks"] != before["ticks"]
    assert all(float(t.replace(",", "")) > 100 for t in after["ticks"])
    download = browser.find_element(By.ID, "download-csv").get_attribute("href")
    assert download is not None and "direction=per_usd" in download
    with urllib.request.urlopen(download, timeout=10) as response:  # noqa: S310 (our own local server)
        assert response.read().decode("utf-8").startswith("date,currency,units_per_usd,")

    browser.find_element(By.CSS_SELECTOR, 'input[name="view"][value="compare"]').click()
    rendered(browser, "compare:per_usd")
    compare = plotted(browser, "chart-compare")
    assert compare["svg"] >= 1 and len(compare["traces"]) == 5
    for trace in compare["traces"]:
        assert next(v for v in trace["y"] if v is not None) == pytest.approx(100)

    errors = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
    assert errors == []


def test_ten_years_summarise_revisions_and_link_to_the_details(
    ten_years_server: str, browser: webdriver.Chrome
) -> None:
    browser.get(ten_years_server + "/")
    rendered(browser, "each:usd_per_unit")
    # Buckets of five days: the ring on 5 January 2020 sums up its revised days (for TMT, the fifth
    # currency, 5 and 8 January: benchmarks/data.py's rule) instead of listing each revision. The hover's
    # lines are separate SVG tspans, so textContent runs them together.
    hover = hover_text(browser, "chart-TMT", "2020-01-05")
    assert hover == ("2020-01-05 to 2020-01-09: 2 revised days" "latest 2020-01-08, 2 revisions"
                     "choose 800 days or fewer to see each revision")

    # Zoom to a year; the link for the details follows, and shows that year day by day.
    button = next(b for b in browser.find_elements(By.CSS_SELECTOR, "#chart-KGS .rangeselector .button")
                  if b.text == "1y")
    button.click()
    link = browser.find_element(By.ID, "daily-detail")
    WebDriverWait(browser, 10).until(lambda d: "from=2024-01" in (link.get_attribute("href") or ""),
                                     message="the details link does not follow the zoom")
    href = link.get_attribute("href") or ""
    assert href.endswith("to=2024-12-31") and "currencies=KGS%2CKZT%2CTJS%2CUZS%2CTMT" in href
    browser.get(href)
    rendered(browser, "each:usd_per_unit")
    assert browser.find_elements(By.ID, "daily-detail") == []
    hover = hover_text(browser, "chart-TMT", REVISED_TMT_DAY.isoformat())
    # Each revision with its time and source; a source that looks like HTML is shown as text.
    assert hover.startswith(f"{REVISED_TMT_DAY}: 2 revisions, latest first0.")
    assert f"seen {REVISED_TMT_DAY} 08:30 UTC" in hover and f"seen {REVISED_TMT_DAY} 03:30 UTC" in hover
    assert hover.count(f"from {HOSTILE}") == 2
    assert browser.execute_script("return document.querySelectorAll('img').length") == 0

    errors = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
    assert errors == []
