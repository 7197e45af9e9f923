"""The check's window is written in Python (official/check.py) and in SQL (sql/008, sql/009): they agree."""

from __future__ import annotations

import re
from pathlib import Path

from fxticker.official import bank_runs
from fxticker.official.check import WINDOW

SQL = Path(__file__).resolve().parents[2] / "sql"


def test_the_check_by_day_reaches_as_far_as_the_window() -> None:
    text = (SQL / "009_official_check_by_day.sql").read_text(encoding="utf-8")
    [values] = re.findall(r"JOIN \(VALUES ([^)]*\)(?:, \([^)]*\))*)\) AS k", text)
    assert [int(n) for n in re.findall(r"\((\d+)\)", values)] == list(range(WINDOW.days + 1))
    assert re.findall(r"rate_date \+ (\d+)\) AS last_day", text) == [str(WINDOW.days)]


def test_the_check_of_one_quote_looks_back_the_window() -> None:
    text = (SQL / "008_official_check.sql").read_text(encoding="utf-8")
    assert re.findall(r"p_rate_date - (\d+)", text) == [str(WINDOW.days)]


def test_the_backfill_fetches_official_rates_the_window_before_the_first_quote() -> None:
    assert bank_runs.HISTORY_LOOKBACK == WINDOW
