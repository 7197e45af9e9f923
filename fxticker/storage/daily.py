"""Reading the ticker's days: each currency's latest quote per day (the `daily_rate` view of sql/), the
stored codes, and the first and last day with a quote. The SQL of these reads lives here, with the storage
of `observation` that the view is built on; fxticker.rates computes rates from what they return.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal

import psycopg

# Distinct codes by skipping through the (currency, rate_date, ...) index one code at a time, so the
# cost grows with the number of currencies and chunks, not with the number of rows.
_CURRENCIES = """
WITH RECURSIVE code AS (
    (SELECT currency FROM observation ORDER BY currency LIMIT 1)
    UNION ALL
    SELECT (SELECT o.currency FROM observation o WHERE o.currency > code.currency
            ORDER BY o.currency LIMIT 1)
    FROM code WHERE code.currency IS NOT NULL
)
SELECT currency FROM code WHERE currency IS NOT NULL
"""

_SPAN = "SELECT min(rate_date), max(rate_date) FROM observation"

# Each currency's first and last day, two index probes per currency.
_CURRENCY_SPANS = """
SELECT c, (SELECT min(rate_date) FROM observation WHERE currency = c),
          (SELECT max(rate_date) FROM observation WHERE currency = c)
FROM unnest(%(currencies)s::text[]) AS c
"""

# The nearest day with any quote on or before a day, read backwards along the rate_date index.
_ON_OR_BEFORE = "SELECT max(rate_date) FROM observation WHERE rate_date <= %(on)s"

_DAILY = """
SELECT rate_date, currency, rate
FROM daily_rate
WHERE currency = ANY(%(currencies)s) AND rate_date >= %(start)s AND rate_date <= %(end)s
ORDER BY rate_date, currency
"""


def stored_currencies(conn: psycopg.Connection) -> list[str]:
    return [row[0] for row in conn.execute(_CURRENCIES)]


def span(conn: psycopg.Connection) -> tuple[dt.date, dt.date] | None:
    """The first and last day with any quote, or None when nothing is stored."""
    row = conn.execute(_SPAN).fetchone()
    if row is None or row[0] is None:
        return None
    return row[0], row[1]


def currency_spans(conn: psycopg.Connection, currencies: Sequence[str]) -> dict[str, tuple[dt.date, dt.date]]:
    """First and last day with a quote, per stored currency asked for."""
    rows = conn.execute(_CURRENCY_SPANS, {"currencies": list(currencies)})
    return {code: (first, last) for code, first, last in rows if first is not None}


def day_on_or_before(conn: psycopg.Connection, on: dt.date) -> dt.date | None:
    row = conn.execute(_ON_OR_BEFORE, {"on": on}).fetchone()
    return row[0] if row else None


def daily_quotes(
    conn: psycopg.Connection, currencies: Iterable[str], start: dt.date, end: dt.date
) -> dict[dt.date, dict[str, Decimal]]:
    """Each day's latest USD-per-unit quote per currency, for days in [start, end] that have one."""
    days: dict[dt.date, dict[str, Decimal]] = {}
    rows = conn.execute(_DAILY, {"currencies": list(currencies), "start": start, "end": end}).fetchall()
    for day, currency, rate in rows:
        days.setdefault(day, {})[currency] = rate
    return days
