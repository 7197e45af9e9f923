"""The export benchmark: GET /export.csv streaming 100k and 1M rows, against psql's \\copy of the same rows.

Time is the median of interleaved runs (export, then \\copy, alternately); memory is the one gunicorn
worker's peak resident size (VmHWM), read from a fresh server per size after its runs, so a buffer that
grew with the row count would show as growth between the two sizes.
"""

from __future__ import annotations

import datetime as dt
import functools

import httpx
import psycopg

from benchmarks import data
from benchmarks.harness import Context, Row, interleaved, median, peak_rss_kib
from fxticker.export import tables

TIME_TARGET = 2.0
MEMORY_TARGET = 1.25  # the 1M export's peak over the 100k one's: flat, give or take the noise of a heap

NOTES = """
**Method.** One database of daily quotes for 100 currencies (the ticker's five and 95 made-up codes:
the parser takes any three-letter code) over 10,000 days (27 years), one day in ten of each currency
with a second revision: 1,100,000 stored rows, 1,000,000 rows of a daily export. The default export
(`resolution=daily`: each day's latest revision, with the day's revision count) is asked for the last
1,000 days (100,000 rows) and for everything (1,000,000 rows) from `fxticker serve --workers 1`,
streamed with httpx (`iter_bytes`, counted and dropped); the number of lines must be the rows plus the
header. Memory: the worker's VmHWM after that size's runs, on a fresh server per size; the 100k figure
is compared with an idle worker's (after one `GET /livez`), the 1M figure with the 100k one.

**Floor.** `psql -c "\\copy (SELECT <the export's columns, typed> FROM observation_checked WHERE
revision_rank = 1 AND rate_date >= ... ORDER BY rate_date, currency) to '/dev/null' with (format csv,
header)"`: the same rows and columns, selected as the export selects them, formatted as CSV by
PostgreSQL's COPY and written by psql, with nothing in between. The typed columns make the floor as
fast as it can be: the export's own SELECT formats every cell as text (to_char, casts) in the form
its CSV promises, which costs PostgreSQL more. Runs are interleaved with the export's.
"""


def _rows_fetched(url: str, query: tables.ExportQuery) -> int:
    """The rows the export holds, counted by PostgreSQL (to check the CSV's line count against)."""
    statement, params = tables._statement(query)
    with psycopg.connect(url) as conn:
        counted = psycopg.sql.SQL("SELECT count(*) FROM ({}) e").format(statement)
        row = conn.execute(counted, params).fetchone()
    return int(row[0]) if row else 0


# The same rows and columns as the daily export, typed: PostgreSQL's COPY formats numerics, dates and
# times itself, which is the cheapest way to get them as CSV (the export's own SELECT formats them with
# to_char and casts, as the CSV must show them, and is slower through psql than this).
_FLOOR = """
SELECT rate_date, currency, rate, rate_low, rate_high, change_pct, direction, revisions, last_seen,
       last_source, official_per_usd, official_provider, official_date, deviation_pct, official_check
FROM observation_checked
WHERE revision_rank = 1 AND rate_date >= %(start)s
ORDER BY rate_date, currency
"""


def copy_command(url: str, start: dt.date) -> str:
    """psql's \\copy of the daily export's rows from start on; psql wants a meta-command on one line."""
    with psycopg.connect(url) as conn:
        text = psycopg.ClientCursor(conn).mogrify(_FLOOR, {"start": start})
    return f"\\copy ({' '.join(text.split())}) to '/dev/null' with (format csv, header)"


def stream(url: str, expected_lines: int) -> None:
    lines = 0
    with httpx.stream("GET", url, timeout=600) as response:
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}: {response.read()[:300]!r}")
        for chunk in response.iter_bytes():
            lines += chunk.count(b"\n")
    if lines != expected_lines:
        raise RuntimeError(f"{url} gave {lines} lines, expected {expected_lines}")


def run(ctx: Context) -> list[Row]:
    currencies, days = (20, 1_000) if ctx.quick else (100, 10_000)
    small_days = days // 10
    url = ctx.database("export")
    codes = data.currencies(currencies)
    end = dt.date.today()
    data.generate(url, codes, days, end=end)
    rows: list[Row] = []
    idle_or_small: int | None = None
    for label_days in (small_days, days):
        start = end - dt.timedelta(days=label_days - 1)
        query = tables.ExportQuery(start=start)
        count = _rows_fetched(url, query)
        if count != data.daily_rows(codes, label_days):
            raise RuntimeError(f"expected {data.daily_rows(codes, label_days)} rows, the query has {count}")
        size = f"{count:,} rows"
        path = f"/export.csv?from={start.isoformat()}"
        command = copy_command(url, start)
        with ctx.serve(url, workers=1) as served:
            (worker,) = served.workers
            httpx.get(served.base + "/livez").raise_for_status()
            idle = peak_rss_kib(worker)
            export_times, copy_times = interleaved(
                functools.partial(stream, served.base + path, count + 1),
                functools.partial(ctx.psql, url, command),
                ctx.runs,
            )
            peak = peak_rss_kib(worker)
        rate = count / median(export_times)
        rows.append(Row("export", size, "GET /export.csv (daily)", median(export_times),
                        "psql \\copy of the same rows, typed", median(copy_times), target=TIME_TARGET,
                        extra=f"{rate:,.0f} rows/s (floor {count / median(copy_times):,.0f})"))
        if idle_or_small is None:
            rows.append(Row("export", size, "worker peak RSS", peak, "idle worker (after /livez)", idle,
                            unit="KiB", extra="growth from idle: buffers and the cursor's batch"))
            idle_or_small = peak
        else:
            rows.append(Row("export", size, "worker peak RSS", peak,
                            f"the {small_days * currencies:,}-row export's", idle_or_small, unit="KiB",
                            target=MEMORY_TARGET, extra="fresh server per size: flat means streamed"))
    return rows
