"""The dashboard in a real headless Chromium, served by a live local server, on the bundled sample data."""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import threading
import urllib.request
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from werkzeug.serving import make_server

from fxticker.cli import ingest_many
from fxticker.web import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
OUTPUT = Path(__file__).resolve().parent.parent / "test-output"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,1700", "--hide-scrollbars"]


@pytest.fixture
def live_server(env: dict[str, str], db_url: str) -> Iterator[str]:
    """The app on 127.0.0.1 with the bundled sample pages loaded, in a thread of this process."""
    ingest_many([str(resources.files("fxticker") / "samples")], None)
    app: Flask = create_app({"DATABASE_READ_URL": db_url})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)
    app.extensions["fxticker_pool"].close()


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    # Debian's chromium and the chromedriver of the same build: nothing is downloaded.
    profile = tempfile.mkdtemp(prefix="fxt-chromium-")
    options = Options()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def rendered(driver: webdriver.Chrome, state: str) -> None:
    """Wait until dashboard.js says it drew the charts in this view and direction."""
    WebDriverWait(driver, 30).until(
        lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-rendered") == state,
        message=f"the charts never reached the state {state!r}",
    )


def plotted(driver: webdriver.Chrome, chart: str) -> dict[str, Any]:
    """The chart's traces as plotly holds them, and the y-axis labels as drawn in its SVG."""
    result: dict[str, Any] = driver.execute_script(
        """
        const div = document.getElementById(arguments[0]);
        return {
          traces: div.data.map((t) => ({name: t.name, y: Array.from(t.y)})),
          ticks: Array.from(div.querySelectorAll('.ytick text')).map((t) => t.textContent),
          svg: div.querySelectorAll('svg.main-svg').length,
        };
        """,
        chart,
    )
    return result


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
    hover = browser.execute_script(
        """
        const div = document.getElementById('chart-KZT');
        const curve = div.data.findIndex((t) => t.name === 'revised days');
        Plotly.Fx.hover(div, [{curveNumber: curve, pointNumber: 0}]);
        const text = Array.from(div.querySelectorAll('.hoverlayer .hovertext')).map((n) => n.textContent);
        Plotly.Fx.unhover(div);
        return text.join(' ');
        """
    )
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
