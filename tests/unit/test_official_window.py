"""The official rates' daily window: a week back, and never before the peg began."""

from __future__ import annotations

import datetime as dt

from fxticker.official.banks import PROVIDERS


def test_the_daily_window_looks_back_a_week_and_the_peg_covers_every_quote() -> None:
    from fxticker.official.bank_runs import daily_window

    today = dt.date(2026, 11, 30)
    week = dt.date(2026, 11, 23)
    assert daily_window(PROVIDERS["nbk"], today, dt.date(2025, 8, 1)) == (week, today)
    assert daily_window(PROVIDERS["nbkr"], today) == (week, dt.date(2026, 12, 1))
    assert daily_window(PROVIDERS["peg"], today) == (week, today)
    assert daily_window(PROVIDERS["peg"], today, dt.date(2025, 8, 1)) == (dt.date(2025, 8, 1), today)
    # Never before the peg began.
    assert daily_window(PROVIDERS["peg"], today, dt.date(2010, 1, 1)) == (dt.date(2015, 1, 1), today)
    assert daily_window(PROVIDERS["peg"], today, dt.date(2026, 11, 29)) == (week, today)
