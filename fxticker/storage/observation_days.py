"""Which days the stored ticker quotes cover: SQL on `observation` that the official rates ask, so that
they know which days to fetch."""

from __future__ import annotations

import datetime as dt

import psycopg


def first_day(conn: psycopg.Connection) -> dt.date | None:
    """The rate date of the oldest stored quote; None when there is none."""
    row = conn.execute("SELECT min(rate_date) FROM observation").fetchone()
    return row[0] if row else None


def day_span(conn: psycopg.Connection, since: dt.date | None,
             until: dt.date | None) -> tuple[dt.date, dt.date] | None:
    """The first and last rate date of the stored quotes within [since, until] (None: open); None when
    there are none."""
    row = conn.execute(
        "SELECT min(rate_date), max(rate_date) FROM observation"
        " WHERE rate_date >= coalesce(%s::date, '-infinity') AND rate_date <= coalesce(%s::date, 'infinity')",
        (since, until)).fetchone()
    if row is None or row[0] is None:
        return None
    return row[0], row[1]
