"""Frankfurter v1-compatible API: /v1/latest, /v1/DATE and /v1/START..END with base, symbols, amount."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, jsonify, request

from fxticker import rates
from fxticker.rates import USD
from fxticker.web import params, read_connection
from fxticker.web.api_v2 import number
from fxticker.web.cache import cached
from fxticker.web.errors import BadInput, NotFound

bp = Blueprint("api_v1", __name__, url_prefix="/v1")

_PARAMS = ("base", "from", "symbols", "to", "amount")
_RANGE = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})\.\.([0-9]{4}-[0-9]{2}-[0-9]{2})?", re.ASCII)
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def _alias(first: str, second: str) -> str | None:
    """Frankfurter v1 takes base or from, symbols or to; one of each pair at most."""
    if first in request.args and second in request.args:
        raise BadInput(f"give '{first}' or '{second}', not both")
    return request.args.get(first, request.args.get(second))


def _query() -> tuple[str, list[str] | None, Decimal]:
    params.reject_unknown(request.args, _PARAMS)
    raw_base = _alias("base", "from")
    raw_symbols = _alias("symbols", "to")
    base = params.parse_code("base", raw_base) if raw_base is not None else USD
    symbols = params.parse_codes("symbols", raw_symbols) if raw_symbols is not None else None
    amount = params.parse_amount(request.args["amount"]) if "amount" in request.args else Decimal(1)
    return base, symbols, amount


def _on(day: dt.date) -> Response:
    base, symbols, amount = _query()
    with read_connection() as conn:
        stored = rates.stored_currencies(conn)
        params.check_known([base, *(symbols or [])], stored)
        found = rates.rates_near(conn, base, params.quotes_for(base, symbols, stored), day, amount=amount)
    if not found:
        raise NotFound(f"no rates on or before {day.isoformat()}")
    return jsonify({
        "amount": number(amount),
        "base": base,
        "date": found[0].date.isoformat(),
        "rates": {r.quote: number(r.value) for r in found},
    })


def _series(start: dt.date, end: dt.date) -> Response:
    base, symbols, amount = _query()
    params.parse_range(start, end)
    with read_connection() as conn:
        stored = rates.stored_currencies(conn)
        params.check_known([base, *(symbols or [])], stored)
        found = rates.rates(conn, base, params.quotes_for(base, symbols, stored), start, end, amount=amount)
    if not found:
        raise NotFound(f"no rates between {start.isoformat()} and {end.isoformat()}")
    by_day: dict[str, dict[str, Any]] = {}
    for r in found:
        by_day.setdefault(r.date.isoformat(), {})[r.quote] = number(r.value)
    return jsonify({
        "amount": number(amount),
        "base": base,
        "start_date": found[0].date.isoformat(),
        "end_date": found[-1].date.isoformat(),
        "rates": by_day,
    })


@bp.get("/latest")
@cached
def latest() -> Response:
    return _on(params.latest_today())


@bp.get("/<period>")
@cached
def dated(period: str) -> Response:
    """/v1/YYYY-MM-DD, /v1/START..END or /v1/START.. (to today); any other name is no endpoint."""
    today = params.latest_today()
    if _DAY.fullmatch(period):
        return _on(params.parse_date("date", period, today))
    match = _RANGE.fullmatch(period)
    if match is None:
        raise NotFound("no such endpoint")
    start = params.parse_date("from", match[1], today)
    end = params.parse_date("to", match[2], today) if match[2] else today
    return _series(start, end)


@bp.get("/currencies")
@cached
def currencies() -> Response:
    params.reject_unknown(request.args, ())
    with read_connection() as conn:
        stored = rates.stored_currencies(conn)
    return jsonify({c: rates.NAMES.get(c, (c, c))[0] for c in [USD, *stored]})

