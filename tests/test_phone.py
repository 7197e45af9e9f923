"""The dashboard at a phone's width, in a real headless Chromium: no sideways scroll of the page, the
scorecard's section included (a wide table scrolls inside its own box)."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import psycopg
import pytest
from selenium import webdriver
from selenium.webdriver.support.ui import WebDriverWait

from fxticker.collect.ingest import ingest_many
from tests import scorecard_data as known
from tests.fix_browser import chromium, rendered, serving

pytestmark = pytest.mark.slow

OUTPUT = Path(__file__).resolve().parent.parent / "test-output"
PHONE = 400


@pytest.fixture
def phone_server(env: dict[str, str], db_url: str) -> Iterator[str]:
    """The bundled sample pages and the scorecard's known data, served on 127.0.0.1."""
    ingest_many([str(resources.files("fxticker") / "samples")], None)
    with psycopg.connect(db_url, autocommit=True) as conn:
        known.store(conn)
    with serving(db_url) as base:
        yield base


@pytest.fixture
def phone() -> Iterator[webdriver.Chrome]:
    with chromium(console_log=True) as driver:
        driver.set_window_size(PHONE, 900)
        yield driver


def widths(driver: webdriver.Chrome) -> dict[str, int]:
    found: dict[str, int] = driver.execute_script(
        "return {page: document.documentElement.scrollWidth, window: window.innerWidth,"
        " table: document.querySelector('table.quality').scrollWidth,"
        " box: document.querySelector('table.quality').parentElement.clientWidth};")
    return found


def test_the_dashboard_does_not_scroll_sideways_at_400_px(phone_server: str, phone: webdriver.Chrome) -> None:
    phone.get(phone_server + "/")
    rendered(phone, "each:usd_per_unit")
    WebDriverWait(phone, 30).until(lambda d: d.execute_script("return document.body.dataset.quality"),
                                   message="the scorecard's chart was never drawn")
    found = widths(phone)
    assert found["window"] == PHONE
    assert found["page"] <= found["window"], found
    # The scorecard's table is wider than a phone, and scrolls in its own box instead of the page.
    assert found["table"] > found["box"]
    chart: dict[str, int] = phone.execute_script(
        "const div = document.getElementById('chart-quality');"
        " return {traces: div.data.length, stale: div.layout.shapes.filter((s) => s.type === 'rect').length,"
        " width: div.getBoundingClientRect().width};")
    assert chart["traces"] == 5 and chart["stale"] == 1 and chart["width"] <= PHONE
    OUTPUT.mkdir(exist_ok=True)
    phone.save_screenshot(str(OUTPUT / "dashboard-phone.png"))
    phone.execute_script("document.getElementById('chart-quality').scrollIntoView()")
    phone.save_screenshot(str(OUTPUT / "dashboard-phone-quality.png"))
    errors = [entry for entry in phone.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
    assert errors == []
