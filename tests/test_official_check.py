"""The check of ticker quotes against official rates (sql/008): bands, their edges, the 7-day reach."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, localcontext

import psycopg
import pytest

from fxticker.official import rate_store
from fxticker.official.answers import OfficialRate

NOW = dt.datetime(2026, 4, 20, 12, tzinfo=dt.UTC)


def quote(conn: psycopg.Connection, currency: str, day: dt.date, rate: str,
          seen: dt.datetime = NOW) -> None:
    conn.execute(
        "INSERT INTO observation (rate_date, currency, rate, change_pct, direction, first_seen, last_seen,"
        " first_source, last_source, first_hash, last_hash)"
        " VALUES (%s, %s, %s::numeric, 0, 'flat', %s, %s, 'test', 'test', 'h', 'h')",
        (day, currency, rate, seen, seen))


def official(conn: psycopg.Connection, provider: str, currency: str, day: dt.date, per_usd: Decimal) -> None:
    rate_store.save_rates(conn, [OfficialRate(provider, currency, day, per_usd, str(per_usd), 1)],
                     source="test", fetched_at=NOW)


def checked(conn: psycopg.Connection, view: str = "observation_checked") -> list[tuple[object, ...]]:
    return conn.execute(
        f"SELECT rate_date, currency, rate::text, official_provider, official_date, official_per_usd::text,"
        f" deviation_pct::text, official_check FROM {view} ORDER BY rate_date, currency").fetchall()


def edges(rate: str) -> dict[str, Decimal]:
    """The four edges of a quote's bands in units per USD, computed here independently of the SQL."""
    r = Decimal(rate)
    half = Decimal(1).scaleb(r.as_tuple().exponent) / 2  # type: ignore[operator]
    with localcontext() as ctx:
        ctx.prec = 40
        low, high = 1 / (r + half), 1 / (r - half)
        return {"agree_low": low * Decimal("0.99"), "agree_high": high * Decimal("1.01"),
                "differ_low": low * Decimal("0.95"), "differ_high": high * Decimal("1.05")}


def nudged(value: Decimal, sign: int) -> Decimal:
    # One part in a billion inside or outside an edge: far above numeric's rounding, far below any band.
    with localcontext() as ctx:
        ctx.prec = 40
        return (value * (1 + sign * Decimal("1e-9"))).quantize(Decimal("1e-15"))


# (edge, nudge direction, expected): -1 moves towards lower per_usd, +1 towards higher.
CASES = [
    ("agree_low", +1, "agrees"), ("agree_low", -1, "differs"),
    ("agree_high", -1, "agrees"), ("agree_high", +1, "differs"),
    ("differ_low", +1, "differs"), ("differ_low", -1, "suspect"),
    ("differ_high", -1, "differs"), ("differ_high", +1, "suspect"),
]


@pytest.mark.parametrize("rate", ["0.00200", "0.00008", "0.28490", "0.1071"])
def test_quotes_inside_at_and_outside_each_edge(conn: psycopg.Connection, rate: str) -> None:
    bands = edges(rate)
    start = dt.date(2026, 1, 5)
    expected = []
    for n, (edge, sign, verdict) in enumerate(CASES):
        day = start + dt.timedelta(days=10 * n)  # apart by more than the 7-day reach
        quote(conn, "KZT", day, rate)
        official(conn, "nbk", "KZT", day, nudged(bands[edge], sign))
        expected.append(verdict)
    # The middle of the band agrees, of course.
    middle = start + dt.timedelta(days=10 * len(CASES))
    quote(conn, "KZT", middle, rate)
    official(conn, "nbk", "KZT", middle, (1 / Decimal(rate)).quantize(Decimal("1e-6")))
    expected.append("agrees")
    assert [row[7] for row in checked(conn)] == expected


def test_the_real_days_and_the_deviation(conn: psycopg.Connection) -> None:
    day = dt.date(2026, 4, 1)
    official(conn, "nbk", "KZT", day, Decimal("478.77"))
    official(conn, "cbu", "UZS", day, Decimal("12194.21"))
    official(conn, "nbt", "TJS", day, Decimal("9.3450"))
    quote(conn, "KZT", day, "0.00209")  # 478.47 per USD
    quote(conn, "UZS", day, "0.00008")  # 12,500 per USD, anything from 11,765 to 13,333
    quote(conn, "TJS", day, "0.01070")  # 93.46: per 10 read as per 1, a unit slip
    quote(conn, "KGS", day, "0.01144")  # no official rate stored for KGS
    assert checked(conn) == [
        (day, "KGS", "0.01144", None, None, None, None, "no_reference"),
        (day, "KZT", "0.00209", "nbk", day, "478.77", "-0.063", "agrees"),
        (day, "TJS", "0.01070", "nbt", day, "9.3450", "900.085", "suspect"),
        (day, "UZS", "0.00008", "cbu", day, "12194.21", "2.508", "agrees"),
    ]


def test_an_earlier_official_day_is_used_within_7_days_and_says_so(conn: psycopg.Connection) -> None:
    friday = dt.date(2026, 4, 3)
    official(conn, "nbk", "KZT", friday, Decimal("478.77"))
    official(conn, "nbk", "KZT", dt.date(2026, 4, 6), Decimal("400"))  # later: never used for earlier quotes
    quote(conn, "KZT", dt.date(2026, 4, 4), "0.00209")  # Saturday
    quote(conn, "KZT", dt.date(2026, 4, 2), "0.00209")  # before any official rate
    quote(conn, "KZT", dt.date(2026, 4, 13), "0.00250")  # 7 days after Monday's
    quote(conn, "KZT", dt.date(2026, 4, 14), "0.00250")  # 8 days after: out of reach
    rows = {row[0]: (row[4], row[7]) for row in checked(conn)}
    assert rows == {
        dt.date(2026, 4, 2): (None, "no_reference"),
        dt.date(2026, 4, 4): (friday, "agrees"),
        dt.date(2026, 4, 13): (dt.date(2026, 4, 6), "agrees"),
        dt.date(2026, 4, 14): (None, "no_reference"),
    }


def test_every_revision_and_each_day_carry_the_check(conn: psycopg.Connection) -> None:
    day = dt.date(2026, 4, 1)
    official(conn, "nbk", "KZT", day, Decimal("478.77"))
    quote(conn, "KZT", day, "0.00209", seen=NOW)
    quote(conn, "KZT", day, "0.00199", seen=NOW + dt.timedelta(hours=1))  # the day's later revision
    revisions = sorted((row[2], row[7]) for row in checked(conn))
    assert revisions == [("0.00199", "differs"), ("0.00209", "agrees")]
    assert [(row[2], row[7]) for row in checked(conn, "daily_checked")] == [("0.00199", "differs")]
