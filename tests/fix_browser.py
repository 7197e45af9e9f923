"""Debian's headless Chromium, driven by its own chromedriver, for the browser test and the dashboard
benchmark: nothing is downloaded, and the flags keep it off the network this machine does not have."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

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
