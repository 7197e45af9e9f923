"""Stored data for the benchmarks, generated in SQL: years of daily quotes for any number of currencies.

Ingesting pages is what the ingest benchmark measures; the API, export and dashboard benchmarks need a
database that already holds years of quotes, made in seconds. One INSERT ... SELECT over generate_series
writes rows as the ingest would have: five-decimal rates that wander around each currency's level, a
day's change and its direction, provenance (source URL, capture times, hashes), and a second revision on
every `revised_every`-th day of each currency (a later capture with another change), so the views that
pick a day's latest revision and count revisions have work to do.
"""

from __future__ import annotations

import datetime as dt
import string
from collections.abc import Sequence

import psycopg

# The ticker's five, at about their real levels (USD per unit), so the API's cross rates, the
# dashboard's per-USD ranges and the precision bands look like the product's.
TICKER = {"KGS": "0.01144", "KZT": "0.00193", "TJS": "0.10593", "UZS": "0.00008", "TMT": "0.28490"}


def currencies(count: int) -> list[str]:
    """The ticker's five, then made-up codes (QAA, QAB, ...: ISO 4217 reserves Q.. for no country)."""
    codes = list(TICKER)[:count]
    letters = string.ascii_uppercase
    extra = (f"Q{a}{b}" for a in letters for b in letters)
    while len(codes) < count:
        codes.append(next(extra))
    return codes


def _level(code: str, index: int) -> str:
    # Made-up currencies spread over four orders of magnitude, like the ticker's (0.28 to 0.00008).
    return TICKER.get(code, f"{(1 + index % 7 / 10) * 10 ** -(1 + index % 4):.5f}")


_GENERATE = """
WITH cur AS (
    SELECT code, level::numeric AS level, i
    FROM unnest(%(codes)s::text[], %(levels)s::text[]) WITH ORDINALITY AS t(code, level, i)
), quote AS (
    SELECT (%(end)s::date - n) AS day, n, cur.code, cur.level, cur.i, rev,
           round((0.8 * sin(n / 7.0 + cur.i))::numeric + 0.05 * rev, 2) AS change
    FROM generate_series(0, %(days)s - 1) AS n
    CROSS JOIN cur
    CROSS JOIN generate_series(0, 1) AS rev
    WHERE rev = 0 OR (n + cur.i) %% %(revised_every)s = 0
)
INSERT INTO observation (rate_date, currency, rate, change_pct, direction, first_seen, last_seen,
                         sightings, first_source, last_source, first_hash, last_hash)
SELECT day, code,
       greatest(round(level * (1 + 0.08 * sin(n / 90.0 + i)::numeric + 0.002 * rev), 5), 0.00001),
       change,
       CASE WHEN change > 0 THEN 'up' WHEN change < 0 THEN 'down' ELSE 'flat' END,
       (day + time '03:00' + rev * interval '5 hours') AT TIME ZONE 'UTC',
       (day + time '03:30' + rev * interval '5 hours') AT TIME ZONE 'UTC',
       2,
       'https://timesca.com/news/' || to_char(day, 'YYYY/MM/DD') || '/',
       'https://timesca.com/news/' || to_char(day, 'YYYY/MM/DD') || '/latest/',
       md5(day::text || code || rev) || md5(code || rev || day::text),
       md5(code || day::text || rev) || md5(rev || day::text || code)
FROM quote
"""


def generate(url: str, codes: Sequence[str], days: int, *, end: dt.date | None = None,
             revised_every: int = 10) -> int:
    """Store `days` days, ending `end` (default today), of quotes for codes; the rows stored."""
    end = end or dt.date.today()
    levels = [_level(code, i) for i, code in enumerate(codes)]
    with psycopg.connect(url) as conn:
        stored = conn.execute(_GENERATE, {
            "codes": list(codes), "levels": levels, "end": end, "days": days,
            "revised_every": revised_every,
        }).rowcount
    with psycopg.connect(url, autocommit=True) as conn:
        # Fresh statistics, as autovacuum would give a table loaded over years.
        conn.execute("VACUUM ANALYZE observation")
    return stored


def daily_rows(codes: Sequence[str], days: int) -> int:
    """How many (day, currency) rows `generate` stores: the rows of a daily export of everything."""
    return len(codes) * days
