"""The product's vocabulary, defined once: currency codes and names, the sign of a change, a quote's
precision bounds, rounding and dates, for the parser, the store, the APIs, the export and the dashboard."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Context, Decimal

import iso4217


class BadValue(ValueError):
    """An input that breaks one of these rules; the message names the input and says why, and quotes
    it back only through shown()."""


# ---- currencies ----------------------------------------------------------------------------------------

USD = "USD"
# re.ASCII: with IGNORECASE or \w other scripts' letters would pass.
CODE = re.compile(r"[A-Z]{3}", re.ASCII)

# Name and symbol of each currency the ticker shows, in the ticker's order: the names fxticker's own
# surfaces (the dashboard, the native API and export) show.
CURRENCIES: dict[str, tuple[str, str]] = {
    "KGS": ("Kyrgyz som", "сом"),
    "KZT": ("Kazakh tenge", "₸"),
    "TJS": ("Tajik somoni", "ЅМ"),
    "UZS": ("Uzbek sum", "soʻm"),
    "TMT": ("Turkmen manat", "m"),
}
NAMES: dict[str, tuple[str, str]] = {USD: ("United States Dollar", "$"), **CURRENCIES}
# The same codes as Frankfurter names them (its names are the Money gem's), for the Frankfurter-compatible
# /v1/currencies and /v2/currencies, whose clients compare the strings.
FRANKFURTER_NAMES: dict[str, str] = {
    USD: "United States Dollar",
    "KGS": "Kyrgyzstani Som",
    "KZT": "Kazakhstani Tenge",
    "TJS": "Tajikistani Somoni",
    "TMT": "Turkmenistani Manat",
    "UZS": "Uzbekistan Som",
}


def iso_currency(code: str) -> iso4217.Currency | None:
    """The ISO 4217 entry for a three-letter code, or None when the code is not ISO 4217.

    The table is the iso4217 package's copy of the ISO maintenance agency's list (List One, current
    codes), kept in step with each amendment; Frankfurter checks codes against the same list (Money gem).
    """
    try:
        return iso4217.Currency(code.upper())
    except ValueError:
        return None


def currency_name(code: str, *, frankfurter: bool = False) -> str:
    """The currency's name in fxticker's own words (or, with frankfurter, in Frankfurter's); a code
    neither table lists is named as ISO 4217 names it, and a code that is not ISO 4217 by its code."""
    listed = FRANKFURTER_NAMES.get(code) if frankfurter else NAMES.get(code, (None, None))[0]
    if listed:
        return listed
    entry = iso_currency(code)
    return entry.currency_name if entry else code


def currency_symbol(code: str) -> str | None:
    """The currency's symbol, where fxticker knows one."""
    return NAMES[code][1] if code in NAMES else None


def parse_codes(name: str, text: str) -> list[str]:
    """Comma-separated three-letter codes, any case, duplicates dropped, in the order given. Only spaces
    around a code are trimmed: "KZT" with a newline is no code."""
    codes = [part.strip(" ").upper() for part in text.split(",")]
    if not all(CODE.fullmatch(code) for code in codes):
        raise BadValue(f"'{name}' takes three-letter codes such as KZT, separated by commas")
    return list(dict.fromkeys(codes))


def check_known(name: str, codes: Iterable[str], known: Collection[str]) -> None:
    """Every code is one the data has: an unknown code is an error, never an empty answer."""
    for code in codes:
        if code not in known:
            raise BadValue(f"'{name}': unknown currency {code}; known: {', '.join(known)}")


class NothingStored(BadValue):
    """No rates are stored at all, so no code can be checked against them (the web answers 404)."""


def check_stored(name: str, codes: Sequence[str], stored: Collection[str]) -> None:
    """Every code asked for is USD or a stored one. With nothing stored at all, NothingStored, rather
    than calling each code unknown: the export's answer on the web and on the command line alike."""
    if codes and not stored:
        raise NothingStored("no rates are stored yet")
    check_known(name, codes, [USD, *stored])


def ticker_order(code: str) -> tuple[int, str]:
    """Sort key: the ticker's own order, then any other code alphabetically."""
    known = list(CURRENCIES)
    return (known.index(code) if code in known else len(known), code)


# ---- provider keys -------------------------------------------------------------------------------------
# One key, two spellings, each where its readers expect it: fxticker's own surfaces (the CLI, the
# official_rate table, /api/observations, /export.csv, metrics, FXTICKER_OFFICIAL_ORIGINS) write it in
# lower case (`nbk`), the Frankfurter-compatible /v2 in upper case (`NBK`), as Frankfurter's own keys
# are (`ECB`) and its clients compare them. Every input accepts either.


# The central banks fxticker asks for their rates (official.banks describes each; the peg is not asked).
FETCHED_BANKS = ("nbk", "cbu", "nbkr", "nbt")


def provider_key(key: str) -> str:
    """A provider's key as fxticker writes and stores it: `nbk`."""
    return key.strip().lower()


def v2_provider_key(key: str) -> str:
    """A provider's key as /v2 writes it: `NBK`."""
    return key.strip().upper()


# ---- the sign of a change ------------------------------------------------------------------------------

DIRECTIONS = ("up", "down", "flat")


def read_change(text: str) -> tuple[Decimal, str]:
    """A quoted change ("-0.14", "0", "-0") as the value stored and its direction.

    A quoted "-0%" is a fall rounded to zero: direction "down" with change 0 (stored without a sign,
    since numeric has no negative zero); change_text puts the sign back.
    """
    change = Decimal(text)
    if text.startswith("-"):
        direction = "down"
    elif change > 0:
        direction = "up"
    else:
        direction = "flat"
    return (change.copy_abs() if change == 0 else change), direction


def signed_change(text: str, direction: str) -> str:
    """A change's text as quoted: a fall rounded to zero keeps its minus sign."""
    return "-" + text if direction == "down" and not text.startswith("-") else text


def change_text(change: Decimal, direction: str) -> str:
    return signed_change(decimal_text(change), direction)


# ---- numbers -------------------------------------------------------------------------------------------

# Units per USD is 1/rate, which rarely has a finite decimal: it is given to this many significant
# digits, ties away from zero (as PostgreSQL's round), and its bounds are rounded outward, so the
# interval shown always contains every rate that rounds to the quote.
INVERSE_DIGITS = 8
_NEAREST = Context(prec=INVERSE_DIGITS, rounding=ROUND_HALF_UP)
_FLOOR = Context(prec=INVERSE_DIGITS, rounding=ROUND_FLOOR)
_CEILING = Context(prec=INVERSE_DIGITS, rounding=ROUND_CEILING)


def decimal_text(value: Decimal) -> str:
    """A decimal as plain digits, never an exponent: 0.00008, 12000000."""
    return format(value, "f")


def units_per_usd(rate: Decimal) -> Decimal:
    return _plain(_NEAREST.divide(1, rate))


@dataclass(frozen=True)
class Bounds:
    """The interval of true rates that round to a quoted one, in both directions."""

    usd_per_unit_low: Decimal
    usd_per_unit_high: Decimal
    units_per_usd_low: Decimal
    units_per_usd_high: Decimal

    def texts(self) -> tuple[str, str, str, str]:
        return (decimal_text(self.usd_per_unit_low), decimal_text(self.usd_per_unit_high),
                decimal_text(self.units_per_usd_low), decimal_text(self.units_per_usd_high))


def bounds(rate: Decimal) -> Bounds:
    """Half a unit in the rate's last quoted place either side; inverted, the bounds swap (the highest
    rate gives the fewest units) and are rounded outward to INVERSE_DIGITS significant digits."""
    exponent = rate.as_tuple().exponent
    assert isinstance(exponent, int), "a quoted rate is finite"
    half = Decimal(5).scaleb(exponent - 1)
    low, high = rate - half, rate + half
    return Bounds(
        usd_per_unit_low=_plain(low),
        usd_per_unit_high=_plain(high),
        units_per_usd_low=_plain(_FLOOR.divide(1, high)),
        units_per_usd_high=_plain(_CEILING.divide(1, low)),
    )


def _plain(value: Decimal) -> Decimal:
    """Without trailing zeros (as PostgreSQL's trim_scale), and without an exponent for whole numbers."""
    value = value.normalize()
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return value.quantize(Decimal(1)) if exponent > 0 else value


# ---- the same rules in SQL -----------------------------------------------------------------------------
# For queries that format every cell in PostgreSQL: the export streams a million rows at close to
# psql's own speed, and a Python pass over each row would cost it about a third more. Each expression
# below gives the same text as the Python above (tests/test_vocab_surfaces.py compares them in PostgreSQL).


def sql_signed_change(change: str, direction: str) -> str:
    """signed_change of a numeric column's text."""
    return (f"CASE WHEN {direction} = 'down' AND left({change}::text, 1) <> '-' "
            f"THEN '-' || {change}::text ELSE {change}::text END")


def _sql_half(rate: str) -> str:
    return f"0.5 * power(10::numeric, -scale({rate}))"


def _sql_inverse(rate: str, rounding: str) -> str:
    # 1/x to 40 decimal places, far past the place where the inverses of two quotes of at most 12
    # digits could differ; then rounded where its INVERSE_DIGITS significant digits end.
    inverse = f"(1.{'0' * 40} / {rate})"
    # The magnitude in floating point: numeric's log costs ten times the rest of the export. A float
    # is off by one only within 1e-15 of a power of ten, closer than 1/x of a 12-digit quote can be
    # to one without being one (which it then reads exactly).
    place = f"({INVERSE_DIGITS - 1} - floor(log({inverse}::float8)))::int"
    if rounding == "nearest":
        return f"trim_scale(round({inverse}, {place}))::text"
    if rounding == "floor":
        return f"trim_scale(trunc({inverse}, {place}))::text"
    # Divided, not multiplied by 10^-place: power() gives a negative power to 16 decimals only.
    return f"trim_scale(ceil({inverse} * power(10::numeric, {place})) / power(10::numeric, {place}))::text"


def sql_units_per_usd(rate: str) -> str:
    """units_per_usd of a numeric column, as text."""
    return _sql_inverse(rate, "nearest")


def sql_bounds(rate: str) -> tuple[str, str, str, str]:
    """bounds(rate).texts() as four SQL expressions of a numeric column."""
    low, high = f"({rate} - {_sql_half(rate)})", f"({rate} + {_sql_half(rate)})"
    return (f"trim_scale({low})::text", f"trim_scale({high})::text",
            _sql_inverse(high, "floor"), _sql_inverse(low, "ceil"))


# ---- dates ---------------------------------------------------------------------------------------------

# The ticker began long after this; an older date is not one the site could have shown.
EARLIEST = dt.date(2000, 1, 1)
DATE_FORMAT = "YYYY-MM-DD"
# ASCII digits only (compile with re.ASCII): \d takes other scripts' digits.
DATE_PATTERN = "[0-9]{4}-[0-9]{2}-[0-9]{2}"
_DATE = re.compile(DATE_PATTERN, re.ASCII)


# ---- today ---------------------------------------------------------------------------------------------
# Two todays, because two questions are asked of the clock:
# - site_today: the calendar date where the ticker is published (FXTICKER_TIMEZONE). Its pages, and the
#   central banks of the region, date their rates by it: a page without a date line, the last day an
#   official fetch asks for, how old a bank's latest rate is.
# - latest_today: the latest calendar date anywhere on Earth (UTC+14). A date after it is the future for
#   every client, wherever it is: the web's bound on dates and its default end of a range, which must not
#   refuse a client whose "today" is already tomorrow in UTC.

_LATEST_ZONE = dt.timezone(dt.timedelta(hours=14))


def site_today(tz: zoneinfo.ZoneInfo, now: dt.datetime | None = None) -> dt.date:
    return (now or dt.datetime.now(dt.UTC)).astimezone(tz).date()


def latest_today(now: dt.datetime | None = None) -> dt.date:
    return (now or dt.datetime.now(dt.UTC)).astimezone(_LATEST_ZONE).date()


def parse_date(text: str) -> dt.date:
    """A date written YYYY-MM-DD and nothing else: date.fromisoformat alone also takes 20251201 and
    2025-W49-1, forms no endpoint or command documents."""
    if not _DATE.fullmatch(text):
        raise BadValue(f"not a date of the form {DATE_FORMAT}")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise BadValue(f"not a real date of the form {DATE_FORMAT}") from None


def date_value(name: str, text: str) -> dt.date:
    """parse_date for an input called name, as the web and the command line both word it."""
    try:
        return parse_date(text)
    except BadValue:
        raise BadValue(f"'{name}' must be a date of the form {DATE_FORMAT}") from None


def date_range(start: dt.date | None, end: dt.date | None, first: str = "'from'", last: str = "'to'") -> None:
    """The one rule of a range, wherever it is given (web parameters, command-line options): its first
    day is not after its last (equal days are one day). BadValue says "first is after last", in the words
    of the caller's inputs. What a surface answers to it is its own: a 422 or a usage error, but 404 in
    /v1 and an empty list in /v2, as Frankfurter answers."""
    if start and end and start > end:
        raise BadValue(f"{first} is after {last}")


def choice(name: str, text: str, options: Sequence[str]) -> str:
    if text not in options:
        words = ", ".join(f"'{o}'" for o in options[:-1]) + f" or '{options[-1]}'"
        raise BadValue(f"'{name}' must be {words}")
    return text
