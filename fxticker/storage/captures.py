"""Storage of the archive's captures as a backfill met them (`archive_capture`): SQL only, in the caller's
transaction. A capture's outcome (stored, rejected, failed) is what lets a re-run skip it."""

from __future__ import annotations

import datetime as dt

import psycopg

_DONE = """
SELECT original, captured_at FROM archive_capture
WHERE archive = %(archive)s AND original = ANY(%(originals)s) AND status <> 'failed'
"""

_SEEN_DIGESTS = """
SELECT DISTINCT digest FROM archive_capture WHERE digest = ANY(%(digests)s) AND status <> 'failed'
"""

_RECORD = """
INSERT INTO archive_capture AS a (
    archive, original, captured_at, digest, status, reason, served_at, source, rate_date,
    observations_new, observations_duplicate)
VALUES (%(archive)s, %(original)s, %(captured_at)s, %(digest)s, %(status)s, %(reason)s, %(served_at)s,
        %(source)s, %(rate_date)s, %(new)s, %(duplicate)s)
ON CONFLICT (archive, original, captured_at) DO UPDATE SET
    digest = excluded.digest, status = excluded.status, reason = excluded.reason,
    served_at = excluded.served_at, source = excluded.source, rate_date = excluded.rate_date,
    observations_new = excluded.observations_new,
    observations_duplicate = excluded.observations_duplicate,
    attempts = a.attempts + 1, updated_at = now()
"""

_WANTED = """
SELECT NOT EXISTS (SELECT 1 FROM observation) OR EXISTS (SELECT 1 FROM archive_capture)
"""


def done(conn: psycopg.Connection, archive: str, originals: list[str]) -> set[tuple[str, dt.datetime]]:
    """(original, captured_at) of the captures of those pages with an outcome other than failed."""
    return set(conn.execute(_DONE, {"archive": archive, "originals": originals}).fetchall())


def seen_digests(conn: psycopg.Connection, digests: list[str]) -> set[str]:
    """Those digests whose bytes some capture read before (and did not fail on)."""
    return {digest for (digest,) in conn.execute(_SEEN_DIGESTS, {"digests": digests})}


def record(conn: psycopg.Connection, *, archive: str, original: str, captured_at: dt.datetime, digest: str,
           status: str, reason: str | None = None, served_at: dt.datetime | None = None,
           source: str | None = None, rate_date: dt.date | None = None, new: int = 0,
           duplicate: int = 0) -> None:
    """A capture's outcome; a later outcome of the same capture replaces it and counts an attempt."""
    conn.execute(_RECORD, {
        "archive": archive, "original": original, "captured_at": captured_at, "digest": digest,
        "status": status, "reason": reason, "served_at": served_at, "source": source,
        "rate_date": rate_date, "new": new, "duplicate": duplicate,
    })


def backfill_wanted(conn: psycopg.Connection) -> bool:
    """Whether nothing is stored yet, or a backfill was begun before."""
    row = conn.execute(_WANTED).fetchone()
    return bool(row and row[0])
