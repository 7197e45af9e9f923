"""Rates between USD and the stored currencies, computed as Frankfurter computes them, amount-free.

A stored quote is USD per one unit of a currency, so rate(base -> quote) = usd_per_unit(base) /
usd_per_unit(quote), with USD's own equal to 1. Rates are computed here without an amount and without
rounding (Decimal, 28 significant digits): the API multiplies by its `amount` and then rounds once, in
Frankfurter's magnitude bands (`band_round`, after lib/roundable.rb), so the same computed rows serve every
amount. The native API gives the exact quotes and the bounds their precision allows.

Which day's quote answers (after lib/carry_forward.rb and lib/rate_scopes.rb of lineofflight/frankfurter):
- a snapshot (latest, or one date) takes each currency's latest day within LOOKBACK before the day asked,
  and dates each row by the day its quote was made; a day after the last stored day asks for that day;
- a series starts on the nearest day with data on or before its first day (v1: however far back; v2:
  within LOOKBACK, as every anchor of lib/versions/v2/rate_query.rb), and lists, per day, the currencies
  quoted that day, the base's quote carried forward up to LOOKBACK when the base was silent;
- a grouped series (week from Monday, cut at a new year, or calendar month) gives one row per quote and
  period, dated as Frankfurter dates its buckets (lib/bucket.rb: a week by 1 January + 7 x %W, a month
  by its 1st), whose rate is computed from the period's average units per USD.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal
from math import floor
from typing import Literal, Protocol

import psycopg

from fxticker.vocab import USD as USD  # re-exported: callers name it rates.USD

# Frankfurter's carry-forward window (lib/carry_forward.rb LOOKBACK_DAYS).
LOOKBACK = dt.timedelta(days=14)

_COMPUTE = Context(prec=28)
# Wide enough that amount (at most 15 digits either side of the point) times any rate is exact.
_PRICE = Context(prec=80)

Group = Literal["day", "week", "month"]

# Frankfurter's magnitude bands (lib/roundable.rb): above 5000 a whole number, above 80 two decimals,
# above 20 three, above 1 four, above 0.0001 five, else six.
_BANDS = ((Decimal(5000), 0), (Decimal(80), 2), (Decimal(20), 3), (Decimal(1), 4), (Decimal("0.0001"), 5))
_LAST_PLACES = 6


def looking_back(day: dt.date) -> dt.date:
    """The first day of the carry-forward window that ends on day; never before the calendar's first day
    (a request for year 1 asks for every day since then, not an OverflowError)."""
    return day - LOOKBACK if day - dt.date.min > LOOKBACK else dt.date.min


def _places(value: Decimal) -> int:
    for above, places in _BANDS:
        if value > above:
            return places
    return _LAST_PLACES


def band_round(value: Decimal) -> Decimal:
    """Frankfurter's Roundable: decimals by magnitude; half-even as printf, whole numbers half-up as Ruby."""
    places = _places(value)
    rounding = ROUND_HALF_UP if places == 0 else ROUND_HALF_EVEN
    return value.quantize(Decimal(1).scaleb(-places), rounding, _PRICE)


def json_number(value: Decimal) -> int | float:
    """A rounded rate as a JSON number: an integer where band_round left a whole number (above 5000),
    as Frankfurter's Roundable does (value.round is an Integer), else the float whose repr is the decimal."""
    exponent = value.as_tuple().exponent
    return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)


def priced(value: Decimal, amount: Decimal) -> Decimal:
    """amount units of base in units of quote: multiplied exactly, then rounded once (Frankfurter's order)."""
    return band_round(_PRICE.multiply(amount, value))


# The binary shortcut of priced_numbers. Its relative error is at most 4 roundings of 2**-53 (amount and
# value to float, the product, the scaling), under 5e-16: with these margins, a product the shortcut puts
# clear of a band's edge and of a tie is on the same side of both as the exact product, so both round to
# the same integer count of the band's last place.
_EDGE = 1e-12  # relative, around a band's threshold
_TIE = 1e-6  # absolute, around a half of the last place; the scaled product stays under 1e9 (error < 1e-6)
_SCALED_MAX = 1e9


def _float_bands() -> list[tuple[float, float, float, int]]:
    """Per band, highest first: (lowest product, highest product, scale to the last place, its integer)."""
    bands = []
    upper = _SCALED_MAX
    for above, places in (*_BANDS, (Decimal(0), _LAST_PLACES)):
        scale = 10 ** places
        bands.append((float(above) * (1 + _EDGE), min(upper * (1 - _EDGE), _SCALED_MAX / scale), float(scale),
                      scale))
        upper = float(above)
    return bands


_FLOAT_BANDS = _float_bands()


def priced_numbers(values: Iterable[tuple[Decimal, float]], amount: Decimal) -> list[int | float]:
    """json_number(priced(value, amount)) for each (value, float(value)): the same numbers, about 5x faster.

    A series' new amount multiplies and rounds a rate per day and currency, and JSON writes each as a
    float. The product is taken in binary floating point, and its band's last place counted as an
    integer n; n / 10**places (a correctly rounded division of integers) is then the double nearest the
    exact rounded decimal, which is float(priced(...)). A product within the margins of a band's edge or
    of a tie (where half-even or half-up decides), or too large for the margins, is computed exactly.
    """
    factor = float(amount)
    bands = _FLOAT_BANDS
    out: list[int | float] = []
    append = out.append
    for value, approximate in values:
        product = factor * approximate
        for band in bands:
            if product > band[0]:
                break
        else:  # not a positive product: no band of the shortcut's
            append(json_number(priced(value, amount)))
            continue
        _, highest, scale, divisor = band
        scaled = product * scale
        whole = floor(scaled + 0.5)
        if product < highest and -0.5 + _TIE < scaled - whole < 0.5 - _TIE:
            append(whole if divisor == 1 else whole / divisor)
        else:
            append(json_number(priced(value, amount)))
    return out


@dataclass(frozen=True)
class Rate:
    """One unit of base is worth `value` units of quote (amount-free, unrounded) on `date`.

    provider is the key of the provider whose quote made the row (the base's for quote USD); an
    identity row (base == quote) has none.
    """

    date: dt.date
    base: str
    quote: str
    value: Decimal
    provider: str | None = None


class QuoteSource(Protocol):
    """What the computation needs of a provider (fxticker.rates.registry.RateProvider is one)."""

    @property
    def key(self) -> str: ...

    def daily_quotes(self, conn: psycopg.Connection, currencies: Sequence[str], start: dt.date,
                     end: dt.date) -> dict[dt.date, dict[str, Decimal]]: ...

    def day_on_or_before(self, conn: psycopg.Connection, on: dt.date) -> dt.date | None: ...


def _stored_needed(base: str, quotes: Sequence[str]) -> list[str]:
    return sorted({c for c in (base, *quotes) if c != USD})


# A currency's quote as the computation carries it: (day quoted, USD per unit, provider key).
Quoted = tuple[dt.date, Decimal, str]


def _merged(conn: psycopg.Connection, sources: Sequence[QuoteSource], currencies: Sequence[str],
            start: dt.date, end: dt.date) -> dict[dt.date, dict[str, Quoted]]:
    """Every source's daily quotes; where two quote a currency on one day, the earlier source wins."""
    days: dict[dt.date, dict[str, Quoted]] = {}
    for source in sources:
        for day, quotes in source.daily_quotes(conn, currencies, start, end).items():
            slot = days.setdefault(day, {})
            for currency, usd in quotes.items():
                slot.setdefault(currency, (day, usd, source.key))
    return days


def _on_or_before(conn: psycopg.Connection, sources: Sequence[QuoteSource], on: dt.date) -> dt.date | None:
    found = [d for d in (s.day_on_or_before(conn, on) for s in sources) if d is not None]
    return max(found, default=None)


def cross(base_usd: Decimal, quote_usd: Decimal) -> Decimal:
    """One unit of base in units of quote, given each one's USD per unit; amount-free, unrounded."""
    return _COMPUTE.divide(base_usd, quote_usd)


def _rows_for_day(base: str, quotes: Sequence[str], quoted: dict[str, Quoted],
                  fresh: Collection[str] | None, day: dt.date) -> list[Rate]:
    """Rows from base's quote to each quote's; `fresh` limits them to quotes made that day (a series).

    USD's row is dated by the base's quote, as Frankfurter dates a row derived through its pivot
    (lib/versions/v2/rate_query.rb, derive); the identity row by the newest other row, or else `day`.
    """
    if base == USD:
        base_day, base_usd, base_by = None, Decimal(1), None
    elif base in quoted:
        base_day, base_usd, base_by = quoted[base]
    else:
        return []
    rows = []
    for quote in quotes:
        if quote == base:
            continue
        if quote == USD:
            if base_day is None or base_by is None or (fresh is not None and base not in fresh):
                continue
            rows.append(Rate(base_day, base, quote, base_usd, base_by))
        elif quote in quoted and (fresh is None or quote in fresh):
            day, quote_usd, by = quoted[quote]
            rows.append(Rate(day, base, quote, cross(base_usd, quote_usd), by))
    if base in quotes and (rows or fresh is None or base in fresh):
        rows.append(Rate(max((r.date for r in rows), default=base_day or day), base, base, Decimal(1)))
    return rows


def snapshot(conn: psycopg.Connection, sources: Sequence[QuoteSource], base: str, quotes: Sequence[str],
             on: dt.date) -> list[Rate]:
    """Rates on `on`, each quote carried forward from its latest day within LOOKBACK; by quote.

    A day after the last stored one asks for the last one: the latest rates, even when the ticker has
    not been read for longer than LOOKBACK (Frankfurter anchors on today, where a provider always is).
    Empty before the first data.
    """
    last = _on_or_before(conn, sources, dt.date.max)
    if last is None:
        return []
    anchor = min(on, last)
    near = _on_or_before(conn, sources, anchor)
    if near is None or anchor - near > LOOKBACK:
        return []
    days = _merged(conn, sources, _stored_needed(base, quotes), looking_back(anchor), anchor)
    quoted: dict[str, Quoted] = {}
    for day in sorted(days):
        quoted.update(days[day])
    return sorted(_rows_for_day(base, quotes, quoted, None, near), key=lambda r: r.quote)


def bucket(day: dt.date, group: Group) -> dt.date:
    """The date of day's period, as Frankfurter dates its rollups (lib/bucket.rb): the day itself; for a
    week, 1 January + 7 x the week number counted from the year's first Monday (strftime %W), so a week
    that spans a new year is two periods and most weeks are dated a few days after their Monday (a
    Wednesday in 2025); for a month, its first day. Dates rise with the days."""
    if group == "week":
        return dt.date(day.year, 1, 1) + dt.timedelta(days=7 * int(day.strftime("%W")))
    if group == "month":
        return day.replace(day=1)
    return day


def _period_days(day: dt.date, group: Group) -> tuple[dt.date, dt.date]:
    """The first and last day of day's period (a week from Monday to Sunday, cut at a new year)."""
    if group == "week":
        first = max(day - dt.timedelta(days=day.weekday()), dt.date(day.year, 1, 1))
        return first, day + dt.timedelta(days=min(6 - day.weekday(), (dt.date(day.year, 12, 31) - day).days))
    if group == "month":
        if day.month == 12:
            return day.replace(day=1), day.replace(day=31)
        return day.replace(day=1), day.replace(month=day.month + 1, day=1) - dt.timedelta(days=1)
    return day, day


def _last_dated_by(limit: dt.date, group: Group) -> dt.date | None:
    """The last day whose period is dated on or before limit; None when no day is."""
    first, last = _period_days(limit, group)
    if bucket(limit, group) <= limit:
        return last
    return first - dt.timedelta(days=1) if first > dt.date.min else None


def series(
    conn: psycopg.Connection,
    sources: Sequence[QuoteSource],
    base: str,
    quotes: Sequence[str],
    start: dt.date,
    end: dt.date,
    *,
    today: dt.date,
    group: Group = "day",
    snap_back: dt.timedelta | None = None,
) -> list[Rate]:
    """Rates from base to each quote over [start, end], by date then quote (see the module doc).

    Empty when start is after today, as Frankfurter's range scope answers nothing for a future start
    (lib/rate_scopes.rb, between); an end after today runs to the latest data. A day series whose start
    has no data starts on the nearest earlier day that has some, at most snap_back before it (None: however
    far: v1's lib/rate_scopes.rb; /v2 anchors within lib/carry_forward.rb's LOOKBACK).
    """
    if start > today:
        return []
    needed = _stored_needed(base, quotes)
    if group != "day":
        return _grouped_series(conn, sources, base, quotes, needed, start, end, group)
    end = min(end, today)
    nearest = _on_or_before(conn, sources, start)
    first = nearest if nearest is not None and (snap_back is None or start - nearest <= snap_back) else start
    days = _merged(conn, sources, needed, looking_back(first), end)
    quoted: dict[str, Quoted] = {}
    found: list[Rate] = []
    for day in sorted(days):
        quoted.update(days[day])
        if day < first:
            continue
        # Only the base's quote is read from earlier days; the others must be the day's own (fresh).
        carried = base in quoted and day - quoted[base][0] <= LOOKBACK
        current = quoted if base == USD or carried else {c: q for c, q in quoted.items() if c != base}
        rows = _rows_for_day(base, quotes, current, days[day].keys(), day)
        found.extend(sorted(rows, key=lambda r: r.quote))
    return found


def _grouped_series(conn: psycopg.Connection, sources: Sequence[QuoteSource], base: str,
                    quotes: Sequence[str], needed: Sequence[str], start: dt.date, end: dt.date,
                    group: Group) -> list[Rate]:
    """Frankfurter's range over a rollup (lib/rate_scopes.rb, between, on the bucket's date): the periods
    dated from the nearest period with data dated on or before start (else from start) up to end."""
    top = _last_dated_by(start, group)
    nearest = _on_or_before(conn, sources, top) if top is not None else None
    if nearest is not None:
        first = _period_days(nearest, group)[0]
    else:  # no data in a period dated on or before start: the periods dated after it
        first = top + dt.timedelta(days=1) if top is not None else dt.date.min
    last = _last_dated_by(end, group)
    if last is None or last < first:
        return []
    return _grouped(_merged(conn, sources, needed, first, last), base, quotes, group)


def _grouped(days: dict[dt.date, dict[str, Quoted]], base: str, quotes: Sequence[str],
             group: Group) -> list[Rate]:
    """Per period, each currency's average units per USD over its days (Frankfurter's rollups average
    the pivot's rates: lib/bucket.rb, db/migrate/017_create_rollup_tables.rb), crossed as on a day and
    dated by the period's first day."""
    sums: dict[dt.date, dict[str, tuple[Decimal, int, str]]] = {}
    for day, quoted in days.items():
        period = sums.setdefault(bucket(day, group), {})
        for currency, (_, usd, by) in quoted.items():
            total, count, _ = period.get(currency, (Decimal(0), 0, by))
            period[currency] = (_COMPUTE.add(total, _COMPUTE.divide(1, usd)), count + 1, by)
    found: list[Rate] = []
    for period_day in sorted(sums):
        averaged = {c: (period_day, _COMPUTE.divide(count, total), by)
                    for c, (total, count, by) in sums[period_day].items()}
        found.extend(sorted(_rows_for_day(base, quotes, averaged, None, period_day), key=lambda r: r.quote))
    return found
