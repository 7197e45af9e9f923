"""Storage: the schema's migrations and every SQL statement fxticker runs against PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from fxticker.ticker import Quote

log = logging.getLogger(__name__)

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
_MIGRATION_LOCK = 7_405_001  # advisory lock key: one migrate at a time


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


_UPSERT = """
INSERT INTO observation AS o (
    rate_date, currency, rate, change_pct, direction,
    first_seen, last_seen, first_source, last_source, first_hash, last_hash)
VALUES (%(date)s, %(currency)s, %(rate)s, %(change)s, %(direction)s,
        %(seen)s, %(seen)s, %(source)s, %(source)s, %(hash)s, %(hash)s)
ON CONFLICT (currency, rate_date, rate, change_pct, direction) DO UPDATE SET
    sightings = o.sightings + 1,
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
RETURNING (xmax = 0) AS inserted
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
    new = 0
    with conn.cursor() as cur:
        for quote in quotes:
            cur.execute(
                _UPSERT,
                {
                    "date": rate_date,
                    "currency": quote.currency,
                    "rate": quote.rate,
                    "change": quote.change_pct,
                    "direction": quote.direction,
                    "seen": seen_at,
                    "source": source,
                    "hash": content_hash,
                },
            )
            row = cur.fetchone()
            if row is not None and row[0]:
                new += 1
    return SaveResult(new=new, duplicate=len(quotes) - new)


def observation_count(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM observation").fetchone()
    return int(row[0]) if row else 0


def last_seen(conn: psycopg.Connection) -> dt.datetime | None:
    row = conn.execute("SELECT max(last_seen) FROM observation").fetchone()
    return row[0] if row else None


_OBSERVATIONS = sql.SQL("""
SELECT rate_date, currency, rate, change_pct, direction, rate_low, rate_high,
       revisions, revision_rank, sightings, first_seen, last_seen,
       first_source, last_source, first_hash, last_hash
FROM observation_detail
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
) -> list[dict[str, object]]:
    """Stored quotes as scraped, with their bounds, revision counts and provenance."""
    query = _OBSERVATIONS.format(
        currency_filter=sql.SQL("currency = ANY(%(currencies)s)" if currencies else "true"),
        revision_filter=sql.SQL("true" if all_revisions else "revision_rank = 1"),
    )
    params = {"currencies": list(currencies or []), "start": start, "end": end}
    with conn.cursor(row_factory=dict_row) as cur:
        return list(cur.execute(query, params))
