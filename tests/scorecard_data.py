"""Ticker quotes and official rates built so that the scorecard's answers are known, and those answers
worked out from the definitions by plain Python (Decimal, statistics), independently of the pandas code.

- Official rates rise 2% a day, every day, for KZT (nbk) and KGS (nbkr), from before the range.
- KZT's ticker shows the same day's official rate at its precision (five decimals), except for FROZEN:
  there it keeps showing the rate of the day before the stretch (a frozen page).
- KGS's ticker shows the official rate of LAGS["KGS"] days before, except on SLIPS, where it shows USD per
  100 som as if per 1 (a unit slip).
- TJS has quotes and no official rate at all.
"""

from __future__ import annotations

import datetime as dt
import statistics
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

START = dt.date(2025, 3, 1)
DAYS = 40
END = START + dt.timedelta(days=DAYS - 1)
OFFICIAL_START = START - dt.timedelta(days=9)
LAGS = {"KZT": 0, "KGS": 2}
PROVIDERS = {"KZT": "nbk", "KGS": "nbkr"}
LEVELS = {"KZT": (Decimal(450), 2), "KGS": (Decimal(85), 4)}
FROZEN = range(10, 16)  # KZT's days (from START) that show day 9's rate
SLIPS = (5, 20, 33)  # KGS's days (from START) quoted per 100 units
TJS_RATE = Decimal("0.10593")
TJS_DAYS = 5
CODES = ("KGS", "KZT", "TJS")
STEP = Decimal("1.02")


def day(n: int) -> dt.date:
    return START + dt.timedelta(days=n)


def official(code: str, when: dt.date) -> Decimal:
    level, places = LEVELS[code]
    return round(level * STEP ** (when - OFFICIAL_START).days, places)


def official_rows() -> list[tuple[str, str, dt.date, Decimal]]:
    """(provider, currency, day, units per USD) for every day from OFFICIAL_START to END."""
    days = [OFFICIAL_START + dt.timedelta(days=n) for n in range((END - OFFICIAL_START).days + 1)]
    return [(PROVIDERS[code], code, when, official(code, when)) for code in LEVELS for when in days]


def _quote(per_usd: Decimal) -> Decimal:
    return (1 / per_usd).quantize(Decimal("0.00001"), rounding=ROUND_HALF_UP)


def quotes() -> list[tuple[str, dt.date, Decimal]]:
    """(currency, day, rate in USD per unit as the ticker shows it)."""
    rows = []
    for n in range(DAYS):
        kzt = _quote(official("KZT", day(FROZEN[0] - 1 if n in FROZEN else n)))
        rows.append(("KZT", day(n), kzt))
        kgs = _quote(official("KGS", day(n - LAGS["KGS"])))
        rows.append(("KGS", day(n), kgs * 100 if n in SLIPS else kgs))
    rows += [("TJS", day(n), TJS_RATE) for n in range(TJS_DAYS)]
    return rows


# ---- the definitions, worked out by hand ---------------------------------------------------------------

def band(rate: Decimal) -> tuple[Decimal, Decimal]:
    exponent = rate.as_tuple().exponent
    assert isinstance(exponent, int)
    half = Decimal(5).scaleb(exponent - 1)
    return rate - half, rate + half


def verdict(rate: Decimal, per_usd: Decimal | None) -> str:
    """sql/009's rule."""
    if per_usd is None:
        return "no_reference"
    low, high = band(rate)
    if Decimal("0.99") / high <= per_usd <= Decimal("1.01") / low:
        return "agrees"
    if Decimal("0.95") / high <= per_usd <= Decimal("1.05") / low:
        return "differs"
    return "suspect"


def deviation(rate: Decimal, per_usd: Decimal) -> Decimal:
    return ((1 / (rate * per_usd) - 1) * 100).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


def reference(code: str, when: dt.date) -> Decimal | None:
    """Every day has an official rate here, so the official rate of a day is that day's."""
    return official(code, when) if code in LEVELS and when >= OFFICIAL_START else None


def expected(code: str, start: dt.date = START, end: dt.date = END) -> dict[str, Any]:
    """The scorecard of code over [start, end], from the definitions."""
    days = sorted((when, rate) for c, when, rate in quotes() if c == code and start <= when <= end)
    verdicts = [verdict(rate, reference(code, when)) for when, rate in days]
    checked = [deviation(rate, ref) for when, rate in days if (ref := reference(code, when)) is not None]
    widths = [(high - low) / ((high + low) / 2) * 100 for low, high in (band(rate) for _, rate in days)]
    shares: list[float | None] = []
    for k in range(8):
        refs = [(rate, reference(code, when - dt.timedelta(days=k))) for when, rate in days]
        known = [(rate, ref) for rate, ref in refs if ref is not None]
        inside = [1 for rate, ref in known if 1 / band(rate)[1] <= ref <= 1 / band(rate)[0]]
        shares.append(len(inside) / len(known) if known else None)
    best = (max(range(8), key=lambda k: (shares[k] if shares[k] is not None else -1.0, -k))
            if shares[0] is not None else None)
    runs = []
    n = 0
    while n < len(days):
        m = n
        while m + 1 < len(days) and days[m + 1][1] == days[n][1]:
            m += 1
        refs = [r for when, _ in days[n:m + 1] if (r := reference(code, when)) is not None]
        if m - n + 1 >= 3 and refs and max(refs) / min(refs) > Decimal("1.01"):
            runs.append({"first_date": days[n][0].isoformat(), "last_date": days[m][0].isoformat(),
                         "quoted_days": m - n + 1,
                         "official_move_pct": round(float((max(refs) / min(refs) - 1) * 100), 3)})
        n = m + 1
    referenced = bool(checked)
    return {
        "currency": code, "from": start.isoformat(), "to": end.isoformat(), "days_quoted": len(days),
        **{v: verdicts.count(v) for v in ("agrees", "differs", "suspect", "no_reference")},
        "median_deviation_pct": round(float(statistics.median(checked)), 3) if checked else None,
        "resolution_pct": round(float(statistics.median(widths)), 3) if widths else None,
        "best_lag_days": best,
        "lag_share": round(shares[best], 4) if best is not None and shares[best] is not None else None,
        "same_day_share": round(shares[0], 4) if shares[0] is not None else None,
        "stale_runs": len(runs) if referenced else None,
        "longest_stale_run": (max(runs, key=lambda r: (r["quoted_days"], r["last_date"]))
                              if runs and referenced else None),
    }


# ---- in the database -----------------------------------------------------------------------------------

# An earlier revision of this KGS day quoted per 100 units; the day's latest corrects it, and only the
# latest counts.
REVISED = 25


def seen(when: dt.date, hour: int = 8) -> dt.datetime:
    return dt.datetime.combine(when, dt.time(hour), tzinfo=dt.UTC)


def store(conn: Any) -> None:
    """The quotes and the official rates into a migrated database (a psycopg connection)."""
    rows = [(code, when, rate, seen(when)) for code, when, rate in quotes()]
    kgs = next(rate for code, when, rate in quotes() if code == "KGS" and when == day(REVISED))
    rows.append(("KGS", day(REVISED), kgs * 100, seen(day(REVISED), 3)))
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO observation (rate_date, currency, rate, change_pct, direction, first_seen,"
            " last_seen, sightings, first_source, last_source, first_hash, last_hash)"
            " VALUES (%s, %s, %s, 0, 'flat', %s, %s, 1, 'built', 'built', md5(%s), md5(%s))",
            [(when, code, rate, at, at, f"{code}{when}{rate}", f"{code}{when}{rate}")
             for code, when, rate, at in rows])
        cur.executemany(
            "INSERT INTO official_rate (provider, currency, rate_date, per_usd, published, nominal,"
            " fetched_at) VALUES (%s, %s, %s, %s, %s, 1, now())",
            [(provider, code, when, per_usd, str(per_usd))
             for provider, code, when, per_usd in official_rows()])
