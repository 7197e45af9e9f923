"""Debian's headless Chromium, driven by its own chromedriver, for the browser tests and the dashboard
benchmark: nothing is downloaded, and the flags keep it off the network this machine does not have. Also
the app served in a thread for the browser to load, and readers of what the page drew."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from werkzeug.serving import make_server

from fxticker.web import create_app
from fxticker.web import pool as web_db

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,1700", "--hide-scrollbars"]


@contextmanager
def chromium(*, console_log: bool = False) -> Iterator[webdriver.Chrome]:
    """A browser with a new, empty profile, quit and removed afterwards; console_log keeps the page's
    console messages for driver.get_log("browser")."""
    profile = tempfile.mkdtemp(prefix="fxt-chromium-")
    options = Options()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    if console_log:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@contextmanager
def serving(db_url: str) -> Iterator[str]:
    """The app on 127.0.0.1 over db_url, in a thread of this process: its base URL."""
    app: Flask = create_app({"DATABASE_READ_URL": db_url})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)
        web_db.close(app)


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    with chromium(console_log=True) as driver:
        yield driver


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
          traces: div.data.map((t) => ({name: t.name, x: Array.from(t.x), y: Array.from(t.y)})),
          ticks: Array.from(div.querySelectorAll('.ytick text')).map((t) => t.textContent),
          svg: div.querySelectorAll('svg.main-svg').length,
        };
        """,
        chart,
    )
    return result
