"""Storage of official rates and of their fetch runs: SQL only, in the caller's transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import psycopg

from fxticker.official.answers import OfficialRate


@dataclass(frozen=True)
class Saved:
    new: int = 0
    changed: int = 0
    same: int = 0

    def __add__(self, other: Saved) -> Saved:
        return Saved(self.new + other.new, self.changed + other.changed, self.same + other.same)


# One statement per answer. A rate stored again unchanged touches nothing (its first fetch stays the
# one on record); a bank that corrects a published rate replaces it, with the new provenance.
_UPSERT = """
INSERT INTO official_rate AS o
    (provider, currency, rate_date, per_usd, published, nominal, fetched_at, source)
SELECT r.provider, r.currency, r.rate_date, r.per_usd, r.published, r.nominal,
       %(fetched_at)s::timestamptz, %(source)s::text
FROM unnest(%(providers)s::text[], %(currencies)s::text[], %(days)s::date[], %(per_usd)s::numeric[],
            %(published)s::text[], %(nominals)s::integer[])
     AS r(provider, currency, rate_date, per_usd, published, nominal)
ON CONFLICT (provider, currency, rate_date) DO UPDATE SET
    per_usd = excluded.per_usd, published = excluded.published, nominal = excluded.nominal,
    fetched_at = excluded.fetched_at, source = excluded.source
WHERE o.published IS DISTINCT FROM excluded.published OR o.nominal <> excluded.nominal
   OR o.per_usd <> excluded.per_usd
RETURNING (xmax = 0) AS inserted
"""


def save_rates(conn: psycopg.Connection, rates: Sequence[OfficialRate], *, source: str | None,
               fetched_at: dt.datetime) -> Saved:
    """Store one answer's rates; idempotent."""
    if fetched_at.tzinfo is None:
        raise ValueError("fetched_at must carry a time zone")
    unique = list({(r.provider, r.currency, r.rate_date): r for r in rates}.values())
    if not unique:
        return Saved()
    with conn.cursor() as cur:
        cur.execute(_UPSERT, {
            "providers": [r.provider for r in unique],
            "currencies": [r.currency for r in unique],
            "days": [r.rate_date for r in unique],
            "per_usd": [r.per_usd for r in unique],
            "published": [r.published for r in unique],
            "nominals": [r.nominal for r in unique],
            "fetched_at": fetched_at,
            "source": source,
        })
        touched = [bool(inserted) for (inserted,) in cur.fetchall()]
    new = sum(touched)
    changed = len(touched) - new
    return Saved(new=new, changed=changed, same=len(rates) - new - changed)


_NEIGHBOURS = """
SELECT d.day, b.rate_date, b.per_usd, a.rate_date, a.per_usd
FROM unnest(%(days)s::date[]) AS d(day)
LEFT JOIN LATERAL (
    SELECT rate_date, per_usd FROM official_rate
    WHERE provider = %(provider)s AND currency = %(currency)s
      AND rate_date <= d.day AND rate_date >= d.day - %(span)s
    ORDER BY rate_date DESC LIMIT 1) b ON true
LEFT JOIN LATERAL (
    SELECT rate_date, per_usd FROM official_rate
    WHERE provider = %(provider)s AND currency = %(currency)s
      AND rate_date > d.day AND rate_date <= d.day + %(span)s
    ORDER BY rate_date LIMIT 1) a ON true
"""


def neighbours(conn: psycopg.Connection, provider: str, currency: str, days: Sequence[dt.date],
               span: dt.timedelta) -> dict[dt.date, list[tuple[dt.date, Decimal]]]:
    """For each day, the stored rates of that provider and currency nearest it within `span`: the one of
    that day or before, and the one after (either may be missing)."""
    rows = conn.execute(_NEIGHBOURS, {"days": list(days), "provider": provider, "currency": currency,
                                      "span": span.days}).fetchall()
    return {day: [(d, v) for d, v in ((bd, bv), (ad, av)) if d is not None]
            for day, bd, bv, ad, av in rows}


def start_run(conn: psycopg.Connection, *, started_at: dt.datetime, trigger: str, host: str,
              since: dt.date, until: dt.date) -> int:
    row = conn.execute(
        "INSERT INTO official_run (started_at, trigger, host, since, until) VALUES (%s, %s, %s, %s, %s)"
        " RETURNING id", (started_at, trigger, host, since, until)).fetchone()
    assert row is not None
    return int(row[0])


@dataclass(frozen=True)
class ProviderOutcome:
    """One provider's part of a run, as recorded."""

    provider: str
    started_at: dt.datetime
    finished_at: dt.datetime
    status: str  # ok | failed
    requests: int
    saved: Saved
    days_refused: int
    error: str | None


def record_provider(conn: psycopg.Connection, run_id: int, outcome: ProviderOutcome) -> None:
    conn.execute(
        "INSERT INTO official_run_provider (run_id, provider, started_at, finished_at, status, requests,"
        " rates_new, rates_changed, rates_same, days_refused, error)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (run_id, outcome.provider, outcome.started_at, outcome.finished_at, outcome.status, outcome.requests,
         outcome.saved.new, outcome.saved.changed, outcome.saved.same, outcome.days_refused, outcome.error))


def finish_run(conn: psycopg.Connection, run_id: int, *, finished_at: dt.datetime, status: str,
               error: str | None) -> None:
    conn.execute("UPDATE official_run SET finished_at = %s, status = %s, error = %s WHERE id = %s",
                 (finished_at, status, error, run_id))


def close_abandoned(conn: psycopg.Connection) -> int:
    """Mark runs a dead process left 'running' as failed; called by a leader taking over."""
    cur = conn.execute(
        "UPDATE official_run SET status = 'failed', finished_at = now(), error = 'abandoned'"
        " WHERE status = 'running' AND trigger = 'schedule'")
    return cur.rowcount


# A run on another machine cannot be asked whether its process lives: after this long it is taken for
# dead (the longest run, a backfill of every bank since 1994 at a request a second, takes about 7 hours).
ABANDONED_AFTER = dt.timedelta(days=2)


def close_dead(conn: psycopg.Connection, gone: Callable[[str | None], bool]) -> int:
    """Mark failed the runs left 'running' by a process that has ended (`gone(host)`: a manual fetch
    killed on this machine, say) or started more than ABANDONED_AFTER ago; how many."""
    rows = conn.execute("SELECT id, host, started_at < now() - %s FROM official_run WHERE status = 'running'",
                        (ABANDONED_AFTER,)).fetchall()
    dead = [run_id for run_id, host, old in rows if old or gone(host)]
    if dead:
        conn.execute("UPDATE official_run SET status = 'failed', finished_at = now(),"
                     " error = 'abandoned: its process ended during the run'"
                     " WHERE id = ANY(%s) AND status = 'running'", (dead,))
    return len(dead)


def last_success(conn: psycopg.Connection) -> dict[str, dt.datetime]:
    """Each provider's last successful fetch."""
    rows = conn.execute("SELECT provider, max(finished_at) FROM official_run_provider"
                        " WHERE status = 'ok' GROUP BY provider").fetchall()
    return {str(key): when for key, when in rows}


def latest_rates(conn: psycopg.Connection) -> dict[str, dt.date]:
    """Each provider's newest rate date."""
    rows = conn.execute("SELECT provider, max(rate_date) FROM official_rate GROUP BY provider").fetchall()
    return {str(key): day for key, day in rows}


def fetches_by_outcome(conn: psycopg.Connection) -> dict[tuple[str, str], int]:
    """(provider, ok|failed) -> how many of its fetches (parts of runs) ended so."""
    rows = conn.execute("SELECT provider, status, count(*) FROM official_run_provider"
                        " GROUP BY provider, status").fetchall()
    return {(str(key), str(status)): int(n) for key, status, n in rows}
