"""The request-parameter layer of every endpoint: which parameters a request may carry, and their values
(dates, currency codes, choices, amounts) by the rules of fxticker.vocab; every rejection a 422 that
names the input, quoting it back only through fxticker.inputs.shown."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Sequence
from decimal import Decimal, InvalidOperation

from flask import request
from werkzeug.datastructures import MultiDict

from fxticker import vocab
from fxticker.inputs import shown
from fxticker.web.errors import BadInput, NotFound

# re.ASCII: \d would otherwise accept other scripts' digits.
_AMOUNT = re.compile(r"[0-9]{1,15}(\.[0-9]{1,15})?", re.ASCII)

def reject_unknown(args: MultiDict[str, str], allowed: Collection[str],
                   lists: Collection[str] = ()) -> None:
    """422 for a parameter this endpoint does not take, or one given twice (but a list's)."""
    unknown = sorted(set(args) - set(allowed))
    if unknown:
        raise BadInput(f"unknown parameter: {', '.join(shown(n) for n in unknown[:5])}")
    for name in args:
        if name not in lists and len(args.getlist(name)) > 1:
            raise BadInput(f"'{name}' is given more than once")


def query(allowed: Collection[str], *, lists: Collection[str] = (), form: bool = False) -> dict[str, str]:
    """The request's parameters, one value each, after reject_unknown.

    A list parameter (lists) may be repeated: its values are joined with commas, as an HTML form's
    checkboxes send them. An empty value is a 422 (`currency=` must not mean "all"), except from an HTML
    form (form), whose empty fields mean "not given".
    """
    args = request.args
    reject_unknown(args, allowed, lists)
    values: dict[str, str] = {}
    for name in args:
        given = [v for v in args.getlist(name) if v or not form]
        if not given:
            continue
        if not all(given):
            raise BadInput(f"'{name}' is empty; leave it out for the default")
        values[name] = ",".join(given)
    return values


def parse_date(name: str, raw: str, today: dt.date = dt.date.max) -> dt.date:
    """A YYYY-MM-DD date not after today."""
    try:
        value = vocab.date_value(name, raw)
    except vocab.BadValue as exc:
        raise BadInput(str(exc)) from None
    if value > today:
        raise BadInput(f"'{name}' is in the future")
    return value


def parse_range(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    try:
        vocab.date_range(start, end)
    except vocab.BadValue as exc:
        raise BadInput(str(exc)) from None
    return start, end


def parse_code(name: str, raw: str) -> str:
    """A three-letter currency code, any case."""
    code = raw.upper()
    if not vocab.CODE.fullmatch(code):
        raise BadInput(f"'{name}' takes a three-letter currency code such as KZT")
    return code


def path_code(raw: str) -> str:
    """A currency code in a URL's path; anything else names no resource there."""
    code = raw.upper()
    if not vocab.CODE.fullmatch(code):
        raise NotFound(f"no currency {shown(raw)} here")
    return code


def parse_codes(name: str, raw: str) -> list[str]:
    """Comma-separated currency codes, duplicates dropped, in the order given."""
    try:
        return vocab.parse_codes(name, raw)
    except vocab.BadValue as exc:
        raise BadInput(str(exc)) from None


def known_codes(name: str, codes: Sequence[str], known: Collection[str]) -> None:
    """422 naming the first code the data does not have."""
    try:
        vocab.check_known(name, codes, known)
    except vocab.BadValue as exc:
        raise BadInput(str(exc)) from None


def parse_choice(name: str, raw: str, options: Sequence[str]) -> str:
    try:
        return vocab.choice(name, raw, options)
    except vocab.BadValue as exc:
        raise BadInput(str(exc)) from None


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


def check_known(codes: Sequence[str], stored: Sequence[str], name: str = "currency") -> None:
    """404 when nothing is stored at all; 422 naming the first code that is neither USD nor stored."""
    try:
        vocab.check_stored(name, codes, stored)
    except vocab.NothingStored as exc:
        raise NotFound(str(exc)) from None
    except vocab.BadValue as exc:
        raise BadInput(str(exc)) from None


# The native API's currency parameter: `currencies=`, as /export.csv and the dashboard call it, with
# `currency=` kept as its alias, so that no client of the earlier name breaks.
CURRENCIES = ("currencies", "currency")


def native_codes(args: dict[str, str]) -> tuple[list[str] | None, str]:
    """The codes asked for by `currencies=` or its alias (None: all), and the name the client used."""
    if all(name in args for name in CURRENCIES):
        raise BadInput("give 'currencies' or its alias 'currency', not both")
    name = next((name for name in CURRENCIES if name in args), CURRENCIES[0])
    return (parse_codes(name, args[name]) if name in args else None), name
