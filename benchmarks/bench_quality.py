"""The quality benchmark: an uncached GET /api/quality over years of five currencies and their official
rates, against its own SQL read alone, and against the budget of 300 ms for ten years."""

from __future__ import annotations

import datetime as dt
import functools

import psycopg

from benchmarks import data
from benchmarks.harness import Context, Row, interleaved, median
from fxticker.official import scorecard
from fxticker.web import create_app
from fxticker.web import pool as web_db

BUDGET_MS = 300.0

NOTES = """
**Method.** `benchmarks/data.py`'s daily quotes for the ticker's five currencies (one day in ten revised),
1 year and 10 years ending today, and an official rate for each currency on every weekday, generated from
the quotes a day later and a little off (so that the check has agrees, differs and lags to find, and the
official rate of a weekend day is Friday's, as the check defines it). The scorecard is asked for every
currency over all the data, `GET /api/quality`, through Flask's test client in this process with the
response cache off (`RESPONSE_CACHE_BYTES` = 0): each request reads the check's rows and computes the
scorecard in full, as the first request after new data does.

**Floor.** The scorecard's one SQL statement alone (`official/scorecard.py`'s read: daily_checked's
quoted days and official_day's rates), fetched by psycopg: what is left is pandas and the JSON. The
second row holds the same time against the budget, 300 ms for ten years of five currencies.
"""

# A rate for each weekday from the day after each quote, 0.4% to either side of it.
_OFFICIAL = """
INSERT INTO official_rate (provider, currency, rate_date, per_usd, published, nominal, fetched_at)
SELECT CASE currency WHEN 'KZT' THEN 'nbk' WHEN 'UZS' THEN 'cbu' WHEN 'KGS' THEN 'nbkr'
                     WHEN 'TJS' THEN 'nbt' ELSE 'peg' END,
       currency, rate_date + 1, per_usd, per_usd::text, 1, now()
FROM (SELECT currency, rate_date,
             round(1 / rate * (1 + 0.004 * sin(rate_date - DATE '2000-01-01')::numeric), 4) AS per_usd
      FROM daily_rate) AS r
WHERE extract(isodow FROM rate_date + 1) < 6
"""


def official_rates(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(_OFFICIAL)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE official_rate")


def run(ctx: Context) -> list[Row]:
    codes = data.currencies(5)
    spans = [("30 days", 30), ("1 year", 365)] if ctx.quick else [("1 year", 365), ("10 years", 3650)]
    rows: list[Row] = []
    for label, days in spans:
        url = ctx.database("quality")
        data.generate(url, codes, days, end=dt.date.today())
        official_rates(url)
        app = create_app({"DATABASE_READ_URL": url, "RESPONSE_CACHE_BYTES": 0})
        client = app.test_client()
        size = f"{label}, {len(codes)} currencies"
        try:
            answer = client.get("/api/quality")
            cards = answer.json or []
            if answer.status_code != 200 or [c["days_quoted"] for c in cards] != [days] * len(codes):
                raise RuntimeError(f"/api/quality answered {answer.status_code}: {answer.data[:300]!r}")
            with psycopg.connect(url) as conn:
                api_times, read_times = interleaved(
                    functools.partial(client.get, "/api/quality"),
                    functools.partial(scorecard.read, conn, codes, None, None), ctx.runs)
        finally:
            web_db.close(app)
        value = median(api_times) * 1000
        extra = f"slowest {max(api_times) * 1000:.0f} ms; {days * len(codes):,} quoted days"
        rows.append(Row("quality", size, "GET /api/quality, uncached", value, "its SQL read alone",
                        median(read_times) * 1000, unit="ms", extra=extra))
        rows.append(Row("quality", size, "GET /api/quality, uncached", value, "the budget for 10 years",
                        BUDGET_MS, unit="ms", target=1.0, extra=extra))
    return rows
