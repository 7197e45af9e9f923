"""Rates between USD and the stored currencies, computed exactly from each day's latest ticker quote.

A stored quote is USD per one unit of a currency, so rate(base -> quote) = usd_per_unit(base) /
usd_per_unit(quote), with USD's own equal to 1. The quotient is computed with Decimal and correctly
rounded (half-even) once, to SIGNIFICANT_DIGITS significant digits: the ticker quotes five decimals,
which is at most five significant digits (TMT 0.28490), so more digits would claim a precision no
quote has. Many quotes have fewer (UZS 0.00008 has one); the native API gives their exact bounds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, Inexact
from typing import Literal

import psycopg

USD = "USD"
SIGNIFICANT_DIGITS = 5
_ROUNDED = Context(prec=SIGNIFICANT_DIGITS, rounding=ROUND_HALF_EVEN)
# amount * usd_per_unit must be exact before the one rounding; amounts are limited to 32 characters.
_EXACT = Context(prec=80, traps=[Inexact])

Group = Literal["day", "week", "month"]

# Names and symbols for the currencies the ticker shows; a stored code not listed here is named by
# its code rather than guessed.
NAMES: dict[str, tuple[str, str]] = {
    "USD": ("United States Dollar", "$"),
    "KGS": ("Kyrgyzstani Som", "сом"),
    "KZT": ("Kazakhstani Tenge", "₸"),
    "TJS": ("Tajikistani Somoni", "ЅМ"),
    "TMT": ("Turkmenistani Manat", "m"),
    "UZS": ("Uzbekistani Som", "soʻm"),
}


@dataclass(frozen=True)
class Rate:
    """amount units of base are worth `value` units of quote on `date` (rounded, see module doc)."""

    date: dt.date
    base: str
    quote: str
    value: Decimal


def cross(base_usd: Decimal, quote_usd: Decimal, amount: Decimal = Decimal(1)) -> Decimal:
    """amount of base in units of quote, given each one's USD per unit; rounded once."""
    return _ROUNDED.divide(_EXACT.multiply(amount, base_usd), quote_usd)


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

RECENT = dt.timedelta(days=31)

# The latest day in [%(since)s, %(on)s] on which base (unless USD) and at least one wanted quote have a
# quote. Read backwards along the hypertable's rate_date index, so it stops at the first such day.
_NEAREST_DAY = """
SELECT rate_date
FROM observation
WHERE rate_date <= %(on)s AND rate_date >= %(since)s AND currency = ANY(%(currencies)s)
GROUP BY rate_date
HAVING (%(base)s = 'USD' OR bool_or(currency = %(base)s))
   AND (cardinality(%(wanted)s::text[]) = 0 OR bool_or(currency = ANY(%(wanted)s)))
ORDER BY rate_date DESC
LIMIT 1
"""

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


def _stored_needed(base: str, quotes: Sequence[str]) -> list[str]:
    return sorted({c for c in (base, *quotes) if c != USD})


def nearest_day(conn: psycopg.Connection, base: str, quotes: Sequence[str], on: dt.date) -> dt.date | None:
    """The latest day on or before `on` with a rate from base to at least one of quotes."""
    wanted = [q for q in quotes if q not in (USD, base)]
    params = {"on": on, "currencies": _stored_needed(base, quotes), "base": base, "wanted": wanted}
    # Nearly every ask is for today or a recent day: look at the last month first. Its lower bound lets
    # the planner leave out every older chunk, and planning across all of them (41 for ten years) cost
    # more than the query itself. Only when that month has nothing, look back all the way.
    since = on - RECENT if on - dt.date.min > RECENT else dt.date.min
    row = conn.execute(_NEAREST_DAY, {**params, "since": since}).fetchone()
    if row is None and since > dt.date.min:
        row = conn.execute(_NEAREST_DAY, {**params, "since": dt.date.min}).fetchone()
    return row[0] if row else None


def daily_quotes(
    conn: psycopg.Connection, currencies: Iterable[str], start: dt.date, end: dt.date
) -> dict[dt.date, dict[str, Decimal]]:
    """Each day's latest USD-per-unit quote per currency, for days in [start, end] that have one."""
    days: dict[dt.date, dict[str, Decimal]] = {}
    rows = conn.execute(_DAILY, {"currencies": list(currencies), "start": start, "end": end})
    for day, currency, rate in rows:
        days.setdefault(day, {})[currency] = rate
    return days


def _period(day: dt.date, group: Group) -> dt.date:
    if group == "week":
        return day - dt.timedelta(days=day.weekday())
    if group == "month":
        return day.replace(day=1)
    return day


def rates(
    conn: psycopg.Connection,
    base: str,
    quotes: Sequence[str],
    start: dt.date,
    end: dt.date,
    *,
    amount: Decimal = Decimal(1),
    group: Group = "day",
) -> list[Rate]:
    """Rates from base to each quote for the days in [start, end] that have both, by date then quote.

    With group week (ISO weeks, from Monday) or month, each pair keeps the last day of each period
    that has a rate: the period's closing rate, dated by the day it was quoted.
    """
    days = daily_quotes(conn, _stored_needed(base, quotes), start, end)
    last: dict[tuple[dt.date, str], Rate] = {}
    for day in sorted(days):
        usd = {USD: Decimal(1), **days[day]}
        if base not in usd:
            continue
        for quote in quotes:
            if quote in usd:
                value = cross(usd[base], usd[quote], amount)
                last[(_period(day, group), quote)] = Rate(day, base, quote, value)
    return sorted(last.values(), key=lambda r: (r.date, r.quote))


def rates_near(
    conn: psycopg.Connection, base: str, quotes: Sequence[str], on: dt.date, *, amount: Decimal = Decimal(1)
) -> list[Rate]:
    """Rates on `on`, or on the nearest earlier day with data; empty when there is none."""
    day = nearest_day(conn, base, quotes, on)
    if day is None:
        return []
    return rates(conn, base, quotes, day, day, amount=amount)
