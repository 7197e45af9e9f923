"""Query-parameter parsing for the APIs: strict, pure, and every rejection a 422 that names the input."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Sequence
from decimal import Decimal, InvalidOperation

from werkzeug.datastructures import MultiDict

from fxticker import vocab
from fxticker.vocab import USD
from fxticker.web.errors import BadInput, NotFound

# re.ASCII: \d would otherwise accept other scripts' digits.
_AMOUNT = re.compile(r"[0-9]{1,15}(\.[0-9]{1,15})?", re.ASCII)
# Only names of this form are repeated back in messages; anything else is described, not echoed.
_SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,30}", re.ASCII)

# The latest calendar date anywhere on Earth is in UTC+14: later dates are the future everywhere.
_EARLIEST_ZONE_AHEAD = dt.timezone(dt.timedelta(hours=14))


def latest_today(now: dt.datetime | None = None) -> dt.date:
    return (now or dt.datetime.now(dt.UTC)).astimezone(_EARLIEST_ZONE_AHEAD).date()


def safe_name(name: str) -> str:
    return name if _SAFE_NAME.fullmatch(name) else "(a name with unusual characters)"


def reject_unknown(args: MultiDict[str, str], allowed: Collection[str]) -> None:
    """422 for a parameter this endpoint does not take, or one given twice."""
    unknown = sorted(set(args) - set(allowed))
    if unknown:
        raise BadInput(f"unknown parameter: {', '.join(safe_name(n) for n in unknown[:5])}")
    for name in args:
        if len(args.getlist(name)) > 1:
            raise BadInput(f"'{name}' is given more than once")


def parse_date(name: str, raw: str, today: dt.date) -> dt.date:
    """A YYYY-MM-DD date not after today."""
    try:
        value = vocab.parse_date(raw)
    except ValueError:
        raise BadInput(f"'{name}' must be a date of the form {vocab.DATE_FORMAT}") from None
    if value > today:
        raise BadInput(f"'{name}' is in the future")
    return value


def parse_range(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    if start > end:
        raise BadInput("'from' is after 'to'")
    return start, end


def parse_code(name: str, raw: str) -> str:
    """A three-letter currency code, any case."""
    code = raw.strip().upper()
    if not vocab.CODE.fullmatch(code):
        raise BadInput(f"'{name}' takes a three-letter currency code such as KZT")
    return code


def parse_codes(name: str, raw: str) -> list[str]:
    """Comma-separated currency codes, duplicates dropped, in the order given."""
    codes: list[str] = []
    for part in raw.split(","):
        if not vocab.CODE.fullmatch(part.strip().upper()):
            raise BadInput(f"'{name}' takes three-letter codes such as KZT, separated by commas")
        code = part.strip().upper()
        if code not in codes:
            codes.append(code)
    return codes


def parse_amount(raw: str) -> Decimal:
    """A positive decimal number such as 10 or 2.5 (plain digits, at most 15 either side of the point)."""
    message = "'amount' must be a positive number such as 10 or 2.5"
    if not _AMOUNT.fullmatch(raw.strip()):
        raise BadInput(message)
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise BadInput(message) from None
    if value <= 0:
        raise BadInput(message)
    return value


def check_known(codes: Sequence[str], stored: Sequence[str]) -> None:
    """404 when nothing is stored at all; 422 naming the first code that is neither USD nor stored."""
    if not stored:
        raise NotFound("no rates are stored yet")
    for code in codes:
        if code != USD and code not in stored:
            raise BadInput(f"unknown currency {code}; known: {', '.join([USD, *stored])}")


def quotes_for(base: str, quotes: Sequence[str] | None, stored: Sequence[str]) -> list[str]:
    """The quotes asked for, or every other currency; asking for the base itself is a 422."""
    if quotes is None:
        return [c for c in sorted([USD, *stored]) if c != base]
    if base in quotes:
        raise BadInput(f"{base} is the base; ask for other currencies")
    return list(quotes)
