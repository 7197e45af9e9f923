"""CSV export: stream stored rates as CSV rows from a server-side cursor, for the web and the CLI alike."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import psycopg
from psycopg import sql

from fxticker import vocab
from fxticker.export import csvfile
from fxticker.official.check import OFFICIAL_COLUMNS
from fxticker.storage import observations

log = logging.getLogger(__name__)

RESOLUTIONS = ("raw", "daily")
DIRECTIONS = ("usd_per_unit", "per_usd")
# The export's defaults, for the web's parameters and the command's options alike.
DEFAULT_RESOLUTION = "daily"
DEFAULT_DIRECTION = "usd_per_unit"


@dataclass(frozen=True)
class ExportQuery:
    currencies: tuple[str, ...] = ()  # empty: every currency
    start: dt.date | None = None
    end: dt.date | None = None
    resolution: str = DEFAULT_RESOLUTION
    direction: str = DEFAULT_DIRECTION

    def filename(self) -> str:
        """What the file holds, e.g. fxticker_KZT-UZS_2025-11-01_2025-12-31_daily_usd-per-unit.csv."""
        parts = [
            "fxticker",
            "-".join(self.currencies) or "all-currencies",
            self.start.isoformat() if self.start else "earliest",
            self.end.isoformat() if self.end else "latest",
            self.resolution,
            "usd-per-unit" if self.direction == "usd_per_unit" else "units-per-usd",
        ]
        return "_".join(parts) + ".csv"


def make_query(
    *,
    currencies: str | None = None,
    start: str | None = None,
    end: str | None = None,
    resolution: str | None = None,
    direction: str | None = None,
) -> ExportQuery:
    """The export's parameters as a user gave them (query string or command line), by vocab's rules;
    None is "not given". A bad one raises vocab.BadValue."""
    query = ExportQuery(
        currencies=tuple(vocab.parse_codes("currencies", currencies)) if currencies is not None else (),
        start=vocab.date_value("from", start) if start is not None else None,
        end=vocab.date_value("to", end) if end is not None else None,
        resolution=vocab.choice("resolution", resolution or DEFAULT_RESOLUTION, RESOLUTIONS),
        direction=vocab.choice("direction", direction or DEFAULT_DIRECTION, DIRECTIONS),
    )
    vocab.date_range(query.start, query.end)
    return query


# Cells are formatted by PostgreSQL, as text, exactly as cell() would format the typed values: numeric's
# text is the quoted decimal (never an exponent, as format(Decimal, "f")), dates ISO, times UTC ISO
# 8601 with microseconds only when there are some (as datetime.isoformat). Parsing a million
# numerics and timestamps into Python objects only to print them again would be most of an export's time.
_DAY = "to_char(rate_date, 'YYYY-MM-DD')"


def _utc(column: str) -> str:
    # One to_char, then drop a zero fraction: '.000000+' can only be the microseconds before the offset.
    return (f"replace(to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') || '+00:00', "
            "'.000000+', '+')")


_CHANGE = vocab.sql_signed_change("change_pct", "direction")
_USD_LOW, _USD_HIGH, _UNITS_LOW, _UNITS_HIGH = vocab.sql_bounds("rate")

_VALUES = {
    "usd_per_unit": (
        ["usd_per_unit", "usd_per_unit_low", "usd_per_unit_high"],
        f"rate::text, {_USD_LOW}, {_USD_HIGH}",
    ),
    "per_usd": (
        ["units_per_usd", "units_per_usd_low", "units_per_usd_high"],
        f"{vocab.sql_units_per_usd('rate')}, {_UNITS_LOW}, {_UNITS_HIGH}",
    ),
}

# The quote's official rate and check (sql/009's observation_checked), named as the API names them.
_OFFICIAL = ("official_per_usd::text, official_provider, to_char(official_date, 'YYYY-MM-DD'), "
             "deviation_pct::text, official_check")

# Output columns stay unnamed: ORDER BY must see the typed columns (a text revision_rank sorts 10 < 2).
_SELECT = {
    "daily": (
        ["change_pct", "direction", "revisions", "last_seen", "source", *OFFICIAL_COLUMNS],
        # A day's latest revision is its rank 1 in observation_detail, ranked as daily_rate picks it
        # (last_seen, then first_seen, latest first); the same window counts the day's revisions in
        # the same pass over the rows, rather than a count(*) subquery per row planned across every
        # chunk of the hypertable.
        f"""
SELECT {_DAY}, currency, {{values}}, {_CHANGE}, direction, revisions::text, {_utc("last_seen")},
       last_source, {_OFFICIAL}
FROM observation_checked
WHERE revision_rank = 1 AND {{where}}
ORDER BY rate_date, currency
""",
    ),
    "raw": (
        ["change_pct", "direction", "revision", "revisions", "sightings", "first_seen", "last_seen",
         "first_source", "source", *OFFICIAL_COLUMNS],
        f"""
SELECT {_DAY}, currency, {{values}}, {_CHANGE}, direction, revision_rank::text, revisions::text,
       sightings::text, {_utc("first_seen")}, {_utc("last_seen")}, first_source, last_source, {_OFFICIAL}
FROM observation_checked
WHERE {{where}}
ORDER BY rate_date, currency, revision_rank
""",
    ),
}
# The columns that hold free text (sources: URLs or paths), which may start like a formula. The others
# are numbers, dates and times formatted above, or codes and directions the table's CHECKs restrict.
_FREE_TEXT = ("first_source", "source")


def header(query: ExportQuery) -> list[str]:
    return ["date", "currency", *_VALUES[query.direction][0], *_SELECT[query.resolution][0]]


def _statement(query: ExportQuery) -> tuple[sql.Composed, dict[str, Any]]:
    conditions = [sql.SQL("true")]
    params: dict[str, Any] = {}
    if query.currencies:
        conditions.append(sql.SQL("currency = ANY(%(currencies)s)"))
        params["currencies"] = list(query.currencies)
    if query.start:
        conditions.append(sql.SQL("rate_date >= %(start)s"))
        params["start"] = query.start
    if query.end:
        conditions.append(sql.SQL("rate_date <= %(end)s"))
        params["end"] = query.end
    template = _SELECT[query.resolution][1]
    statement = sql.SQL(template).format(
        values=sql.SQL(_VALUES[query.direction][1]),
        where=sql.SQL(" AND ").join(conditions),
    )
    return statement, params


def batches(conn: psycopg.Connection, query: ExportQuery) -> Iterator[list[tuple[str, ...]]]:
    """The export's rows (without header) as cells, a batch at a time from a server-side cursor.

    A named cursor needs a transaction: the caller's connection must not be in autocommit mode.
    """
    statement, params = _statement(query)
    return observations.batches(conn, "fxticker_export", statement, params, observations.BATCH_ROWS)


def csv_chunks(conn: psycopg.Connection, query: ExportQuery, *, bom: bool = False) -> Iterator[str]:
    """The whole CSV as text chunks of about BATCH_ROWS rows each: header first, a BOM before it if asked."""
    columns = header(query)
    free_text = [i for i, name in enumerate(columns) if name in _FREE_TEXT]
    return csvfile.chunks(columns, batches(conn, query), bom=bom, text_columns=free_text)


def write(conn: psycopg.Connection, query: ExportQuery, out: BinaryIO, *, bom: bool = False) -> None:
    """Write the CSV, UTF-8 encoded, to a binary stream chunk by chunk (bytes: no newline translation)."""
    for chunk in csvfile.encoded(csv_chunks(conn, query, bom=bom)):
        out.write(chunk)
