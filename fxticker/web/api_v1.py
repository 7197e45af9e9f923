"""Frankfurter v1-compatible API: /v1/latest (or /v1/current), /v1/DATE and /v1/START..END with base,
symbols and amount, as lineofflight/frankfurter's lib/versions/v1.rb answers them."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from itertools import groupby
from operator import itemgetter

from flask import Blueprint, Response, jsonify, request

from fxticker import vocab
from fxticker.inputs import shown
from fxticker.rates import pricing, registry
from fxticker.rates.pricing import Rate
from fxticker.vocab import USD
from fxticker.web import params
from fxticker.web.cache import cached
from fxticker.web.errors import BadInput, NotFound
from fxticker.web.frankfurter import computed, known_currencies, resolve_base, resolve_quotes
from fxticker.web.pool import read_connection

bp = Blueprint("api_v1", __name__, url_prefix="/v1")
# Frankfurter v1's JSON (its Roda json plugin) names the charset; /v2 and the native API do not.
JSON = "application/json; charset=utf-8"

# v1 answers with the ticker's rates alone, as Frankfurter's v1 answers with its one source: the official
# providers (a bank's rate, a peg) are /v2's, asked for by name there.
_SOURCES = [registry.TICKER]
_PARAMS = ("base", "from", "symbols", "to", "amount")
_RANGE = re.compile(rf"({vocab.DATE_PATTERN})\.\.({vocab.DATE_PATTERN})?", re.ASCII)
_DAY = re.compile(vocab.DATE_PATTERN, re.ASCII)


def _alias(first: str, second: str) -> str | None:
    """Frankfurter v1 takes base or from, symbols or to; one of each pair at most."""
    if first in request.args and second in request.args:
        raise BadInput(f"give '{first}' or '{second}', not both")
    return request.args.get(first, request.args.get(second))


def _query(known: list[str]) -> tuple[str, list[str], Decimal]:
    """base, the quotes without the base (Frankfurter v1 leaves it out), amount.

    Only the base alone as symbols is a 422 (lib/versions/v1/query.rb: 'bad currency pair').
    """
    params.reject_unknown(request.args, _PARAMS)
    raw_base = _alias("base", "from")
    raw_symbols = _alias("symbols", "to")
    amount = params.parse_amount(request.args["amount"]) if "amount" in request.args else Decimal(1)
    base = _base(raw_base, known) if raw_base is not None else USD
    if raw_symbols is None:
        return base, [c for c in known if c != base], amount
    symbols = resolve_quotes("symbols", raw_symbols, known)
    if symbols == [base]:
        raise BadInput(f"{base} to {base} is not a currency pair")
    return base, [c for c in symbols if c != base], amount


def _base(raw: str, known: list[str]) -> str:
    """The base; one that is malformed (`USD?callback=?`) or not ISO 4217 is a 404 like one without rates,
    as Frankfurter v1 answers every base it has no rates for."""
    try:
        return resolve_base("base", raw, known)
    except BadInput:
        raise NotFound(f"no rates for base {shown(raw)}") from None


def _rates(found: list[Rate], amount: Decimal) -> dict[str, int | float]:
    ordered = sorted(found, key=lambda r: r.quote)
    priced = pricing.priced_numbers([(r.value, float(r.value)) for r in ordered], amount)
    return {r.quote: value for r, value in zip(ordered, priced, strict=True)}


def _on(day: dt.date) -> Response:
    sources = _SOURCES
    with read_connection() as conn:
        base, quotes, amount = _query(known_currencies(conn, sources))
        key = ("snapshot", tuple(p.key for p in sources), base, tuple(quotes), day)
        found = computed(conn, key, lambda: pricing.snapshot(conn, sources, base, quotes, day))
    if not found:
        raise NotFound(f"no rates on or before {day.isoformat()}")
    return jsonify({
        "amount": float(amount),
        "base": base,
        "date": max(r.date for r in found).isoformat(),
        "rates": _rates(found, amount),
    })


def _series(start: dt.date, end: dt.date) -> Response:
    try:
        vocab.date_range(start, end)
    except vocab.BadValue as exc:  # Frankfurter v1 finds no rates between a later day and an earlier one
        raise NotFound(f"{exc}: no rates between them") from None
    sources = _SOURCES
    today = vocab.latest_today()
    with read_connection() as conn:
        base, quotes, amount = _query(known_currencies(conn, sources))
        key = ("series", tuple(p.key for p in sources), base, tuple(quotes), start, end, today, "day")
        # Rows in the answer's order, kept per query like the rates they come from: a new amount costs
        # one multiplication and rounding per rate, not the grouping and sorting again.
        rows = computed(conn, (*key, "v1 rows"), lambda: _day_rows(
            computed(conn, key,
                     lambda: pricing.series(conn, sources, base, quotes, start, end, today=today))))
    if not rows:
        raise NotFound(f"no rates between {start.isoformat()} and {end.isoformat()}")
    numbers = iter(pricing.priced_numbers(map(itemgetter(2), rows), amount))
    rates_by_day = {day: {quote: next(numbers) for _, quote, _ in day_rows}
                    for day, day_rows in groupby(rows, key=itemgetter(0))}
    return jsonify({
        "amount": float(amount),
        "base": base,
        "start_date": rows[0][0],
        "end_date": rows[-1][0],
        "rates": rates_by_day,
    })


def _day_rows(found: list[Rate]) -> list[tuple[str, str, tuple[Decimal, float]]]:
    """(day, quote, (amount-free value, its float)), by day and then quote, as v1's series lists them."""
    return sorted((r.date.isoformat(), r.quote, (r.value, float(r.value))) for r in found)


@bp.after_request
def _charset(response: Response) -> Response:
    if response.mimetype == "application/json":
        response.content_type = JSON
    return response


@bp.get("/latest")
@bp.get("/current")
@cached
def latest() -> Response:
    return _on(vocab.latest_today())


@bp.get("/<period>")
@cached
def dated(period: str) -> Response:
    """/v1/YYYY-MM-DD, /v1/START..END or /v1/START.. (to today); any other name is no endpoint.

    No bound on a date: a future one answers the latest rates, as Frankfurter's does.
    """
    today = vocab.latest_today()
    if _DAY.fullmatch(period):
        return _on(params.parse_date("date", period, dt.date.max))
    match = _RANGE.fullmatch(period)
    if match is None:
        raise NotFound("no such endpoint")
    start = params.parse_date("from", match[1], dt.date.max)
    end = params.parse_date("to", match[2], dt.date.max) if match[2] else today
    return _series(start, end)


@bp.get("/currencies")
@cached
def currencies() -> Response:
    params.reject_unknown(request.args, ())
    with read_connection() as conn:
        stored = sorted({c for p in _SOURCES for c in p.currencies(conn)})
    codes = sorted({USD, *stored}) if stored else []
    return jsonify({c: vocab.currency_name(c, frankfurter=True) for c in codes})
