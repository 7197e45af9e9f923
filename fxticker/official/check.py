"""The check of every ticker quote against its central bank, as the rest of fxticker names it.

The check itself is SQL (sql/008, sql/009: observation_checked, daily_checked), so that every reader
gets it from the database in one query; this module holds what Python needs to know of it: the window
a quote looks back for an official rate, the thresholds of its verdicts, and the fields a quote gains.
tests/unit/test_official_check_window.py holds the SQL to these numbers.
"""

from __future__ import annotations

import datetime as dt

# A quote is checked against the official rate of its own day, else of the latest earlier day within this.
WINDOW = dt.timedelta(days=7)
# The verdicts: the official rate inside the quote's precision band widened by AGREES_PCT percent, within
# DIFFERS_PCT percent of it, further (suspect), or no official rate within the window.
AGREES_PCT = 1
DIFFERS_PCT = 5
VERDICTS = ("agrees", "differs", "suspect", "no_reference")

# The fields a quote gains, in this order (the JSON keys and the CSV columns alike).
OFFICIAL_COLUMNS = ("official_per_usd", "official_provider", "official_date", "deviation_pct", "check")
