"""Storage of the observations: the schema's migrations, and the SQL that writes and reads `observation`.

Other tables' SQL lives with the module that owns them: fxticker.storage.scrape_runs (scrape accounting),
fxticker.storage.captures (archive_capture), fxticker.official.rate_store (official rates); a web view's read
queries sit beside it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from fxticker.ticker import Quote

log = logging.getLogger(__name__)

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
_MIGRATION_LOCK = 7_405_001  # advisory lock key: one migrate at a time
# Rows a reader of many (an export, a long answer) fetches from its server-side cursor and writes out at a
# time: memory stays flat, and a round trip carries enough to be worth it.
BATCH_ROWS = 2000


class MigrationError(RuntimeError):
    """The schema cannot be brought up to date; the message says why and what to do."""


def migration_files(directory: Path = SQL_DIR) -> list[Path]:
    files = sorted(directory.glob("[0-9][0-9][0-9]_*.sql"))
    if not files:
        raise MigrationError(f"no migrations found in {directory}")
    return files


def _require_timescaledb(conn: psycopg.Connection) -> None:
    row = conn.execute(
        "SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'"
    ).fetchone()
    if row is None:
        raise MigrationError(
            "this PostgreSQL server has no TimescaleDB extension, which fxticker's hypertable needs. "
            "Install it (on Debian 12: 'make setup' builds it from source; with docker: use the "
            "timescale/timescaledb image), add timescaledb to shared_preload_libraries, restart."
        )
    preload = conn.execute("SHOW shared_preload_libraries").fetchone()
    installed = conn.execute(
        "SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'"
    ).fetchone()
    if not installed and (preload is None or "timescaledb" not in preload[0]):
        raise MigrationError(
            "TimescaleDB is installed but not loaded: add timescaledb to shared_preload_libraries "
            "in postgresql.conf and restart the server"
        )


def migrate(conn: psycopg.Connection, directory: Path = SQL_DIR) -> list[str]:
    """Apply the migrations not yet applied, each in its own transaction; return their names."""
    files = migration_files(directory)
    conn.autocommit = True
    _require_timescaledb(conn)
    conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migration ("
            " name text PRIMARY KEY, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done: dict[str, str] = dict(conn.execute("SELECT name, checksum FROM schema_migration").fetchall())
        applied = []
        for path in files:
            text = path.read_text(encoding="utf-8")
            checksum = hashlib.sha256(text.encode()).hexdigest()
            if path.name in done:
                if done[path.name] != checksum:
                    log.warning("migration %s changed after it was applied; not re-run", path.name)
                continue
            log.info("applying %s", path.name)
            try:
                with conn.transaction():
                    conn.execute(text.encode())
                    conn.execute(
                        "INSERT INTO schema_migration (name, checksum) VALUES (%s, %s)",
                        (path.name, checksum),
                    )
            except psycopg.Error as exc:
                raise MigrationError(f"{path.name}: {exc.diag.message_primary or exc}") from exc
            applied.append(path.name)
        return applied
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))


@dataclass(frozen=True)
class SaveResult:
    new: int
    duplicate: int


# How a quote seen again merges into its stored row, for the page-by-page and the batch upsert alike:
# the sightings add up (a page's row proposes 1, the column's default; a batch's row its count), and
# first/last seen widen, each with the provenance of the capture that widened it.
_MERGE = """ON CONFLICT (currency, rate_date, rate, change_pct, direction) DO UPDATE SET
    sightings = o.sightings + excluded.sightings,
    last_seen = greatest(o.last_seen, excluded.last_seen),
    last_source = CASE WHEN excluded.last_seen > o.last_seen
                       THEN excluded.last_source ELSE o.last_source END,
    last_hash = CASE WHEN excluded.last_seen > o.last_seen
                     THEN excluded.last_hash ELSE o.last_hash END,
    first_seen = least(o.first_seen, excluded.first_seen),
    first_source = CASE WHEN excluded.first_seen < o.first_seen
                        THEN excluded.first_source ELSE o.first_source END,
    first_hash = CASE WHEN excluded.first_seen < o.first_seen
                      THEN excluded.first_hash ELSE o.first_hash END
WHERE excluded.last_seen > o.last_seen OR excluded.first_seen < o.first_seen
"""


# A page's quotes in one statement (unnest of parallel arrays): one round trip per page, not one per
# quote, which is what an ingest of many pages spends its time on.
_UPSERT = f"""
INSERT INTO observation AS o (
    rate_date, currency, rate, change_pct, direction,
    first_seen, last_seen, first_source, last_source, first_hash, last_hash)
SELECT %(date)s::date, q.currency, q.rate, q.change_pct, q.direction,
       %(seen)s::timestamptz, %(seen)s::timestamptz, %(source)s::text, %(source)s::text,
       %(hash)s::text, %(hash)s::text
FROM unnest(%(currencies)s::text[], %(rates)s::numeric[], %(changes)s::numeric[], %(directions)s::text[])
     AS q(currency, rate, change_pct, direction)
{_MERGE}RETURNING (xmax = 0) AS inserted
"""


def save_quotes(
    conn: psycopg.Connection,
    quotes: Sequence[Quote],
    *,
    rate_date: dt.date,
    source: str,
    content_hash: str,
    seen_at: dt.datetime,
) -> SaveResult:
    """Store one page's quotes in the caller's transaction.

    A quote already stored for that day counts as a duplicate; seeing it earlier or later than before
    widens its first/last seen and counts a sighting, so re-reading the same capture changes nothing.
    """
    if seen_at.tzinfo is None:
        raise ValueError("seen_at must carry a time zone")
    # One statement may not touch a row twice (ON CONFLICT would fail): a quote given twice is stored
    # once and its repeat counts as a duplicate, as a second statement with the same capture would.
    unique = list(dict.fromkeys(quotes))
    if not unique:
        return SaveResult(new=0, duplicate=0)
    with conn.cursor() as cur:
        cur.execute(
            _UPSERT,
            {
                "date": rate_date,
                "currencies": [quote.currency for quote in unique],
                "rates": [quote.rate for quote in unique],
                "changes": [quote.change_pct for quote in unique],
                "directions": [quote.direction for quote in unique],
                "seen": seen_at,
                "source": source,
                "hash": content_hash,
            },
        )
        new = sum(1 for (inserted,) in cur.fetchall() if inserted)
    return SaveResult(new=new, duplicate=len(quotes) - new)


@dataclass(frozen=True)
class PageQuotes:
    """One parsed page to store: its quotes, the day they are for, and where and when they were seen."""

    quotes: Sequence[Quote]
    rate_date: dt.date
    source: str
    content_hash: str
    seen_at: dt.datetime


# Many pages in one statement. A statement may not touch a row twice, so save_pages folds the batch into
# one staged row per key, replaying the page-by-page rules of _UPSERT in the order of the pages: the
# first page's spelling of the numbers (numeric keys compare by value, 0.10 = 0.1), the earliest and the
# latest capture with the source and hash of the first page to reach each, and the captures that set a
# new latest (`highs`) or a new earliest (`lows`) as the batch went. Those decide the sightings, once the
# stored row is known: a page counts one when it inserts the key or widens what is stored and what the
# batch's pages before it saw, that is when it is one of `highs` after the stored last_seen or one of
# `lows` before the stored first_seen. The stored row is read in the same statement, limited to the
# batch's days so TimescaleDB reads only their chunks. Rows go in the order of the page that last moved
# each key's last_seen (then its place in that page): sql/007's ingest_seq, drawn as a row is inserted or
# its last_seen moves, then ranks them as page-by-page saves would.
_STAGE = """
CREATE TEMPORARY TABLE IF NOT EXISTS ingest_stage (
    ord integer NOT NULL, rate_date date NOT NULL, currency text NOT NULL, rate numeric NOT NULL,
    change_pct numeric NOT NULL, direction text NOT NULL,
    first_seen timestamptz NOT NULL, last_seen timestamptz NOT NULL,
    first_source text NOT NULL, last_source text NOT NULL, first_hash text NOT NULL, last_hash text NOT NULL,
    highs timestamptz[] NOT NULL, lows timestamptz[] NOT NULL
)
"""
_STAGE_COPY = """COPY ingest_stage (ord, rate_date, currency, rate, change_pct, direction, first_seen,
    last_seen, first_source, last_source, first_hash, last_hash, highs, lows) FROM STDIN"""
_UPSERT_STAGED = f"""
INSERT INTO observation AS o (
    rate_date, currency, rate, change_pct, direction, sightings,
    first_seen, last_seen, first_source, last_source, first_hash, last_hash)
SELECT s.rate_date, s.currency, s.rate, s.change_pct, s.direction,
       CASE WHEN x.last_seen IS NULL THEN cardinality(s.highs) + cardinality(s.lows) - 1
            -- at least 1 for the CHECK: a key no page widens is not updated, the value is then unused
            ELSE greatest(1, (SELECT count(*) FROM unnest(s.highs) AS h WHERE h > x.last_seen)
                           + (SELECT count(*) FROM unnest(s.lows) AS l WHERE l < x.first_seen)) END,
       s.first_seen, s.last_seen, s.first_source, s.last_source, s.first_hash, s.last_hash
FROM ingest_stage s
LEFT JOIN observation x
       ON x.currency = s.currency AND x.rate_date = s.rate_date AND x.rate = s.rate
      AND x.change_pct = s.change_pct AND x.direction = s.direction
      AND x.rate_date BETWEEN %(first_day)s AND %(last_day)s
ORDER BY s.ord
{_MERGE}RETURNING (xmax = 0) AS inserted, currency, rate_date, rate, change_pct, direction
"""


@dataclass
class _Folded:
    """One key's quotes over a batch, as save_pages stages it."""

    page: int  # the first page that shows the key: the one a new row counts as new for
    quote: Quote
    first: PageQuotes
    last: PageQuotes
    moved: tuple[int, int]  # (page, place in it) where last_seen was set last: the row's ingestion order
    highs: list[str]  # capture times, ISO text
    lows: list[str]


def save_pages(conn: psycopg.Connection, pages: Sequence[PageQuotes]) -> list[SaveResult]:
    """Store many pages' quotes in the caller's transaction: one COPY and one statement for them all.

    The result, page by page, and the rows left are those of save_quotes called for each page in turn.
    """
    if any(page.seen_at.tzinfo is None for page in pages):
        raise ValueError("seen_at must carry a time zone")
    folded: dict[tuple[object, ...], _Folded] = {}
    for number, page in enumerate(pages):
        seen = page.seen_at
        # As a timestamptz[] element, written once a page rather than once a quote.
        seen_text = seen.isoformat()
        quotes = page.quotes
        # A quote shown twice counts once; with one quote a currency (as a ticker shows them), none can be.
        if len({quote.currency for quote in quotes}) < len(quotes):
            quotes = list(dict.fromkeys(quotes))
        for place, quote in enumerate(quotes):
            key = _key(quote.currency, page.rate_date, quote.rate, quote.change_pct, quote.direction)
            entry = folded.get(key)
            if entry is None:
                folded[key] = _Folded(number, quote, page, page, (number, place), [seen_text], [seen_text])
                continue
            if seen > entry.last.seen_at:
                entry.last = page
                entry.moved = (number, place)
                entry.highs.append(seen_text)
            if seen < entry.first.seen_at:
                entry.first = page
                entry.lows.append(seen_text)
    new = [0] * len(pages)
    if folded:
        conn.execute(_STAGE)
        with conn.cursor() as cur:
            in_order = sorted(folded.items(), key=lambda item: item[1].moved)
            with cur.copy(_STAGE_COPY) as copy:
                for ord_, ((currency, rate_date, *_), entry) in enumerate(in_order):
                    copy.write_row((ord_, rate_date, currency, entry.quote.rate, entry.quote.change_pct,
                                    entry.quote.direction, entry.first.seen_at, entry.last.seen_at,
                                    entry.first.source, entry.last.source, entry.first.content_hash,
                                    entry.last.content_hash, _array(entry.highs), _array(entry.lows)))
            cur.execute(_UPSERT_STAGED, {"first_day": min(page.rate_date for page in pages),
                                         "last_day": max(page.rate_date for page in pages)})
            for inserted, *returned in cur.fetchall():
                if inserted:
                    new[folded[_key(*returned)].page] += 1
            # Emptied here, not at commit: a transaction may store several batches.
            cur.execute("DELETE FROM ingest_stage")
    return [SaveResult(new=n, duplicate=len(page.quotes) - n) for n, page in zip(new, pages, strict=True)]


def _array(times: list[str]) -> str:
    """A timestamptz[] literal of ISO times (they need no quoting in one): a tenth of the cost of psycopg's
    general list dumper, which a day's 48 captures of one quote made a third of a batch's client time."""
    return "{" + ",".join(times) + "}"


def _key(currency: str, rate_date: dt.date, rate: object, change_pct: object,
         direction: str) -> tuple[object, ...]:
    # Decimal hashes by value, as numeric compares: the key the database's unique constraint uses.
    return (currency, rate_date, rate, change_pct, direction)


def observation_count(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM observation").fetchone()
    return int(row[0]) if row else 0


def observation_totals(conn: psycopg.Connection) -> tuple[int, int]:
    """Rows of observation and their sightings in all."""
    # count(*) rather than the planner's estimate: the ticker adds five rows a scrape at most.
    row = conn.execute("SELECT count(*), coalesce(sum(sightings), 0) FROM observation").fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def last_seen(conn: psycopg.Connection) -> dt.datetime | None:
    row = conn.execute("SELECT max(last_seen) FROM observation").fetchone()
    return row[0] if row else None


_OBSERVATIONS = sql.SQL("""
SELECT rate_date, currency, rate, change_pct, direction,
       revisions, revision_rank, sightings, first_seen, last_seen,
       first_source, last_source, first_hash, last_hash,
       official_per_usd, official_provider, official_date, deviation_pct, official_check
FROM observation_checked
WHERE ({currency_filter})
  AND rate_date >= %(start)s AND rate_date <= %(end)s
  AND ({revision_filter})
ORDER BY rate_date, currency, revision_rank
""")


def observations(
    conn: psycopg.Connection,
    *,
    currencies: Iterable[str] | None,
    start: dt.date,
    end: dt.date,
    all_revisions: bool,
    size: int,
) -> Iterator[list[dict[str, Any]]]:
    """Stored quotes as scraped, with revision counts, provenance and official check, size at a time
    from a server-side cursor (conn must not be in autocommit mode)."""
    query = _OBSERVATIONS.format(
        currency_filter=sql.SQL("currency = ANY(%(currencies)s)" if currencies else "true"),
        revision_filter=sql.SQL("true" if all_revisions else "revision_rank = 1"),
    )
    params = {"currencies": list(currencies or []), "start": start, "end": end}
    return batches(conn, "fxticker_observations", query, params, size, dict_row)


def batches(conn: psycopg.Connection, name: str, statement: sql.Composed | str, params: dict[str, Any],
            size: int, row_factory: Any = None) -> Iterator[list[Any]]:
    """The rows of statement, size at a time, from a server-side cursor: memory stays flat for any
    number of rows. A named cursor needs a transaction: conn must not be in autocommit mode.
    """
    cur = conn.cursor(name=name, row_factory=row_factory) if row_factory else conn.cursor(name=name)
    try:
        cur.execute(statement, params)
        while True:
            batch = cur.fetchmany(size)
            last = len(batch) < size
            if last:
                # A short batch is the last: no further FETCH, and the cursor closes before the rows
                # go out, so a small answer is done with the database before its response starts.
                _close_quietly(cur)
            if batch:
                yield batch
            if last:
                return
    finally:
        _close_quietly(cur)


def _close_quietly(cur: psycopg.ServerCursor[Any]) -> None:
    """Close the cursor; a database gone by now has lost nothing: every row was fetched or the answer
    is failing already."""
    if cur.closed:
        return
    try:
        cur.close()
    except psycopg.Error as exc:
        log.info("cursor %s not closed cleanly (%s); its transaction ends with the connection", cur.name, exc)
