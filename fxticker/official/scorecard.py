"""How far the ticker can be trusted: a scorecard per currency against its central bank, over a date range.

Defined here once, for the API, the command line, the dashboard and the feed alike. The per-day facts
come from the check (sql/009: daily_checked, each quoted day's latest revision with its verdict and
deviation, and official_day, the official rate of every day as the check defines it: the bank's rate of
that day, else of the latest earlier day within check.WINDOW); read() fetches both in one query and
compute() does the arithmetic with pandas, column by column, never row by row:

- days_quoted, and how many of them the check calls agrees, differs, suspect, no_reference;
- median_deviation_pct: the median of the check's signed deviation_pct over the days it could check;
- resolution_pct: the median width of a quote's precision band in percent of its midpoint (the same in
  USD per unit and in units per USD: (high - low) / ((high + low) / 2) either way);
- for k = 0..MAX_LAG, the share of the quoted days with an official rate of day t - k whose precision
  band contains that rate; best_lag_days is the k with the largest share (ties go to the smaller k),
  lag_share its share, same_day_share the share at k = 0;
- stale_runs: runs of consecutive quoted days with the same quoted rate, at least STALE_DAYS long, over
  which the official rate (of the quoted days, as the check takes it) moved by more than STALE_MOVE_PCT
  (its maximum over its minimum); longest_stale_run, the one with most quoted days (ties: the latest).

Without any official rate for a currency's quoted days, the figures that need one are null.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import psycopg

from fxticker import vocab
from fxticker.official import check

MAX_LAG = check.WINDOW.days
STALE_DAYS = 3
STALE_MOVE_PCT = 1.0
# Containment in a band is computed in binary floating point from decimals of at most 12 digits, which
# are off by about 1e-16 of their value; a rate on the band's edge belongs to the band, as in the check.
_EDGE = 1e-12
_EPOCH = dt.date(1970, 1, 1)

# The fields of a currency's scorecard, in this order (JSON keys; the CSV's columns are CSV_COLUMNS).
FIELDS = ("currency", "from", "to", "days_quoted", *check.VERDICTS, "median_deviation_pct",
          "resolution_pct", "best_lag_days", "lag_share", "same_day_share", "stale_runs",
          "longest_stale_run")
RUN_FIELDS = ("first_date", "last_date", "quoted_days", "official_move_pct")
# A CSV cell holds no object: the longest stale run is spread over four columns.
CSV_COLUMNS = (*FIELDS[:-1], *(f"longest_stale_{name}" for name in RUN_FIELDS))

# Quoted days and official days in one statement: the rows of daily_checked in the range, and the official
# rate of every day from MAX_LAG days before it (for the lags), told apart by `kind`. It is copied out as
# CSV with day numbers, float8 rates and epoch seconds, and parsed by pandas' C reader: for ten years of
# five currencies, Python objects (dates, Decimals, datetimes) for every cell cost more than the
# arithmetic.
_READ = """
COPY (
SELECT 'q' AS kind, currency, rate_date - DATE '1970-01-01' AS day, rate::float8, rate_low::float8,
       rate_high::float8, official_per_usd::float8 AS per_usd, deviation_pct::float8, official_check,
       extract(epoch FROM last_seen)::float8
FROM daily_checked
WHERE currency = ANY(%(currencies)s) AND rate_date >= %(start)s AND rate_date <= %(end)s
UNION ALL
SELECT 'o', currency, day - DATE '1970-01-01', NULL, NULL, NULL, per_usd::float8, NULL, NULL, NULL
FROM official_day
WHERE currency = ANY(%(currencies)s) AND day >= %(official_start)s AND day <= %(end)s
) TO STDOUT (FORMAT csv)
"""
_COLUMNS = ("kind", "currency", "day", "rate", "rate_low", "rate_high", "per_usd", "deviation_pct",
            "check", "last_seen")
_FLOATS = ("rate", "rate_low", "rate_high", "per_usd", "deviation_pct", "last_seen")
_TYPES = {"kind": "str", "currency": "str", "day": "int64", "check": "str",
          **dict.fromkeys(_FLOATS, "float64")}
# last_seen: when the day's latest quote was last seen, in seconds since 1970 (UTC).
QUOTED = ("currency", "day", "rate", "rate_low", "rate_high", "per_usd", "deviation_pct", "check",
          "last_seen")
OFFICIAL = ("currency", "day", "per_usd")


def day_number(day: dt.date) -> int:
    return (day - _EPOCH).days


def day_date(number: int) -> dt.date:
    return _EPOCH + dt.timedelta(days=int(number))


def chosen(codes: Sequence[str] | None, stored: Sequence[str]) -> list[str]:
    """The currencies a scorecard is asked for (already checked against the stored ones): every stored
    currency by default, in the ticker's order; USD, every quote's unit and never quoted, left out."""
    if codes:
        return [c for c in codes if c != vocab.USD]
    return sorted(stored, key=vocab.ticker_order)


def read(conn: psycopg.Connection, codes: Sequence[str], start: dt.date | None,
         end: dt.date | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The quoted days of codes in [start, end] (None: unbounded) with their check, and the official
    rate of every day of the range and the MAX_LAG days before it: frames of QUOTED and OFFICIAL."""
    first, last = start or dt.date.min, end or dt.date.max
    # The lags reach MAX_LAG days before the range (no earlier than the calendar's first day).
    official_start = max(first, dt.date.min + dt.timedelta(days=MAX_LAG)) - dt.timedelta(days=MAX_LAG)
    buffer = io.BytesIO()
    with conn.cursor() as cur, cur.copy(_READ, {"currencies": list(codes), "start": first, "end": last,
                                                "official_start": official_start}) as copy:
        for chunk in copy:
            buffer.write(chunk)
    buffer.seek(0)
    if buffer.getbuffer().nbytes:
        frame = pd.read_csv(buffer, names=list(_COLUMNS), dtype=_TYPES, keep_default_na=False,
                            na_values={c: [""] for c in _COLUMNS})
    else:
        frame = pd.DataFrame({c: pd.Series(dtype=t) for c, t in _TYPES.items()})
    kind = frame["kind"].to_numpy()
    quoted = frame.loc[kind == "q", list(QUOTED)].reset_index(drop=True)
    official = frame.loc[kind == "o", list(OFFICIAL)].reset_index(drop=True)
    return _typed(quoted, QUOTED), _typed(official, OFFICIAL)


def _typed(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    frame = frame.astype({c: "float64" for c in _FLOATS if c in columns})
    return frame.astype({"day": "int64"})


@dataclass(frozen=True)
class Scorecard:
    """cards: one scorecard per currency asked (FIELDS); runs: every stale run, by currency and date
    (currency and RUN_FIELDS); quoted: the quoted days read, sorted by currency and day."""

    cards: list[dict[str, Any]]
    runs: list[dict[str, Any]]
    quoted: pd.DataFrame


def scorecard(conn: psycopg.Connection, codes: Sequence[str], start: dt.date | None = None,
              end: dt.date | None = None) -> Scorecard:
    """The scorecard of codes over [start, end]; an unbounded side runs to the selection's data."""
    quoted, official = read(conn, codes, start, end)
    return compute(quoted, official, codes, start, end)


def compute(quoted: pd.DataFrame, official: pd.DataFrame, codes: Sequence[str], start: dt.date | None = None,
            end: dt.date | None = None) -> Scorecard:
    """The scorecard from frames of QUOTED and OFFICIAL columns (days as day_number, rates as floats)."""
    quoted = _typed(quoted, QUOTED).sort_values(["currency", "day"], kind="stable").reset_index(drop=True)
    official = _typed(official, OFFICIAL)
    index = pd.Index(list(codes), name="currency")
    by = quoted["currency"]
    counts = quoted.groupby(["currency", "check"]).size().unstack(fill_value=0)
    counts = counts.reindex(index=index, columns=list(check.VERDICTS), fill_value=0).fillna(0)
    checked = quoted["check"] != "no_reference"
    deviation = quoted["deviation_pct"].where(checked).groupby(by).median().reindex(index)
    low, high = quoted["rate_low"], quoted["rate_high"]
    resolution = ((high - low) / (high + low) * 200).groupby(by).median().reindex(index)
    shares = lag_shares(quoted, official).reindex(index)
    best = best_lag(shares)
    runs = stale_runs(quoted)
    referenced = quoted["per_usd"].notna().groupby(by).any().reindex(index, fill_value=False)
    stale_count = runs.groupby("currency").size().reindex(index, fill_value=0) if len(runs) else (
        pd.Series(0, index=index))
    longest = _longest(runs)
    days = quoted["day"]
    frm = start.isoformat() if start else (day_date(days.min()).isoformat() if len(days) else None)
    to = end.isoformat() if end else (day_date(days.max()).isoformat() if len(days) else None)
    cards = []
    for code in index:
        quoted_days = int(counts.loc[code].sum())
        has_reference = bool(referenced.loc[code])
        card: dict[str, Any] = {"currency": code, "from": frm, "to": to, "days_quoted": quoted_days}
        card.update({verdict: int(counts.loc[code, verdict]) for verdict in check.VERDICTS})
        card["median_deviation_pct"] = _number(deviation.loc[code], 3)
        card["resolution_pct"] = _number(resolution.loc[code], 3)
        lag = best.loc[code]
        card["best_lag_days"] = None if pd.isna(lag) else int(lag)
        card["lag_share"] = None if pd.isna(lag) else _number(shares.loc[code, int(lag)], 4)
        card["same_day_share"] = _number(shares.loc[code, 0], 4)
        card["stale_runs"] = int(stale_count.loc[code]) if has_reference else None
        card["longest_stale_run"] = longest.get(code) if has_reference else None
        cards.append(card)
    return Scorecard(cards, [_run(row) for row in runs.to_dict("records")], quoted)


def lag_shares(quoted: pd.DataFrame, official: pd.DataFrame) -> pd.DataFrame:
    """Per currency (rows) and k = 0..MAX_LAG (columns): the share of quoted days with an official rate
    of day t - k whose band contains it; NaN where no quoted day has one."""
    official = official.drop_duplicates(["currency", "day"])
    names = pd.Index(sorted(set(quoted["currency"]) | set(official["currency"])), name="currency")
    shares = pd.DataFrame(np.nan, index=names, columns=pd.Index(range(MAX_LAG + 1)))
    if not len(quoted) or not len(official):
        return shares
    # The official rates as a table of currency by day, so that day t - k of every quote is one lookup.
    first = min(int(official["day"].min()), int(quoted["day"].min()) - MAX_LAG)
    last = max(int(official["day"].max()), int(quoted["day"].max()))
    table = np.full((len(names), last - first + 1), np.nan)
    table[names.get_indexer(official["currency"]), official["day"].to_numpy() - first] = official["per_usd"]
    row = names.get_indexer(quoted["currency"])
    day = quoted["day"].to_numpy() - first
    low, high = quoted["rate_low"].to_numpy(), quoted["rate_high"].to_numpy()
    for k in range(MAX_LAG + 1):
        rate = table[row, day - k]
        known = ~np.isnan(rate)
        # Inside 1/high .. 1/low units per USD, multiplied out: no division of a rate near zero.
        inside = known & (rate * low <= 1 + _EDGE) & (rate * high >= 1 - _EDGE)
        checked = np.bincount(row, weights=known, minlength=len(names))
        hits = np.bincount(row, weights=inside, minlength=len(names))
        with np.errstate(invalid="ignore", divide="ignore"):
            shares[k] = np.where(checked > 0, hits / checked, np.nan)
    return shares


def best_lag(shares: pd.DataFrame) -> pd.Series:
    """The column of each row's largest share (the first, i.e. the smaller k, on ties); NaN for a row
    without any share."""
    some = shares.notna().any(axis=1)
    best = shares.fillna(-1.0).to_numpy().argmax(axis=1) if len(shares) else np.array([], dtype=int)
    return pd.Series(best, index=shares.index, dtype="float64").where(some)


def stale_runs(quoted: pd.DataFrame) -> pd.DataFrame:
    """Every stale run of the sorted quoted days: currency, first and last day (day numbers), quoted
    days, and the official rate's move over the run in percent."""
    same = (quoted["currency"] == quoted["currency"].shift()) & (quoted["rate"] == quoted["rate"].shift())
    run = (~same).cumsum()
    grouped = quoted.groupby(run)
    runs = pd.DataFrame({
        "currency": grouped["currency"].first(),
        "first_date": grouped["day"].first(),
        "last_date": grouped["day"].last(),
        "quoted_days": grouped["day"].size(),
        "official_move_pct": (grouped["per_usd"].max() / grouped["per_usd"].min() - 1) * 100,
    })
    stale = (runs["quoted_days"] >= STALE_DAYS) & (runs["official_move_pct"] > STALE_MOVE_PCT)
    return runs[stale].reset_index(drop=True)


def _longest(runs: pd.DataFrame) -> dict[str, dict[str, Any]]:
    if not len(runs):
        return {}
    ranked = runs.sort_values(["currency", "quoted_days", "last_date"], kind="stable")
    return {str(row["currency"]): _run(row, currency=False)
            for row in ranked.groupby("currency").tail(1).to_dict("records")}


def _run(row: dict[str, Any], *, currency: bool = True) -> dict[str, Any]:
    found = {"currency": row["currency"]} if currency else {}
    found.update({
        "first_date": day_date(row["first_date"]).isoformat(),
        "last_date": day_date(row["last_date"]).isoformat(),
        "quoted_days": int(row["quoted_days"]),
        "official_move_pct": _number(row["official_move_pct"], 3),
    })
    return found


def _number(value: Any, digits: int) -> float | None:
    return None if pd.isna(value) else round(float(value), digits)


def csv_row(card: dict[str, Any]) -> list[Any]:
    """A scorecard as the values of CSV_COLUMNS."""
    run = card["longest_stale_run"] or {}
    return [*(card[name] for name in FIELDS[:-1]), *(run.get(name) for name in RUN_FIELDS)]
