"""Frankfurter v2-compatible API: rates as rows of {date, base, quote, rate}, currencies and providers."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

import psycopg
from flask import Blueprint, Response, jsonify, request

from fxticker import rates
from fxticker.rates import USD, Group, Rate
from fxticker.web import params, read_connection
from fxticker.web.cache import cached
from fxticker.web.errors import BadInput, NotFound

bp = Blueprint("api_v2", __name__, url_prefix="/v2")

_RATES_PARAMS = ("base", "quotes", "date", "from", "to", "group")
_GROUPS: dict[str, Group] = {"day": "day", "week": "week", "month": "month"}
PROVIDER_KEY = "timesca"
PROVIDER_URL = "https://timesca.com/"


def number(value: Decimal) -> float:
    """A rounded rate as a JSON number. Its repr is the shortest that round-trips, i.e. the decimal."""
    return float(value)


def row(rate: Rate) -> dict[str, Any]:
    return {"date": rate.date.isoformat(), "base": rate.base, "quote": rate.quote, "rate": number(rate.value)}


def _lookup(conn: psycopg.Connection) -> list[Rate]:
    args = request.args
    params.reject_unknown(args, _RATES_PARAMS)
    today = params.latest_today()
    stored = rates.stored_currencies(conn)
    base = params.parse_code("base", args.get("base", USD))
    asked = params.parse_codes("quotes", args["quotes"]) if "quotes" in args else None
    params.check_known([base, *(asked or [])], stored)
    quotes = params.quotes_for(base, asked, stored)
    if "date" in args and ("from" in args or "to" in args):
        raise BadInput("give either 'date' or 'from'/'to', not both")
    if "to" in args and "from" not in args:
        raise BadInput("'to' needs 'from'")
    group = _GROUPS.get(args.get("group", "day"))
    if group is None:
        raise BadInput("'group' must be 'day', 'week' or 'month'")
    if "from" in args:
        start = params.parse_date("from", args["from"], today)
        end = params.parse_date("to", args["to"], today) if "to" in args else today
        params.parse_range(start, end)
        return rates.rates(conn, base, quotes, start, end, group=group)
    if "group" in args:
        raise BadInput("'group' applies to a series: give 'from'")
    on = params.parse_date("date", args["date"], today) if "date" in args else today
    found = rates.rates_near(conn, base, quotes, on)
    if not found:
        raise NotFound(f"no rates on or before {on.isoformat()}")
    return found


@bp.get("/rates")
@cached
def rates_json() -> Response:
    with read_connection() as conn:
        found = _lookup(conn)
    return jsonify([row(r) for r in found])


@bp.get("/rates.csv")
@cached
def rates_csv() -> Response:
    with read_connection() as conn:
        found = _lookup(conn)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["date", "base", "quote", "rate"])
    writer.writerows([r.date.isoformat(), r.base, r.quote, format(r.value, "f")] for r in found)
    return Response(out.getvalue(), mimetype="text/csv")


@bp.get("/rate/<base>/<quote>")
@cached
def one_rate(base: str, quote: str) -> Response:
    params.reject_unknown(request.args, ("date",))
    base, quote = params.parse_code("base", base), params.parse_code("quote", quote)
    if base == quote:
        raise BadInput("base and quote are the same currency")
    today = params.latest_today()
    on = params.parse_date("date", request.args["date"], today) if "date" in request.args else today
    with read_connection() as conn:
        params.check_known([base, quote], rates.stored_currencies(conn))
        found = rates.rates_near(conn, base, [quote], on)
    if not found:
        raise NotFound(f"no {base}/{quote} rate on or before {on.isoformat()}")
    return jsonify(row(found[0]))


def currency(code: str) -> dict[str, str]:
    name, symbol = rates.NAMES.get(code, (code, code))
    return {"iso_code": code, "name": name, "symbol": symbol}


def _all_currencies() -> list[str]:
    with read_connection() as conn:
        stored = rates.stored_currencies(conn)
    return [USD, *stored]


@bp.get("/currencies")
@cached
def currencies() -> Response:
    params.reject_unknown(request.args, ())
    return jsonify([currency(c) for c in _all_currencies()])


@bp.get("/currency/<code>")
@cached
def one_currency(code: str) -> Response:
    params.reject_unknown(request.args, ())
    code = params.parse_code("code", code)
    if code not in _all_currencies():
        raise BadInput(f"unknown currency {code}")
    return jsonify(currency(code))


@bp.get("/providers")
@cached
def providers() -> Response:
    params.reject_unknown(request.args, ())
    with read_connection() as conn:
        stored = rates.stored_currencies(conn)
        first_last: tuple[dt.date, dt.date] | None = rates.span(conn)
    return jsonify([{
        "key": PROVIDER_KEY,
        "name": "The Times of Central Asia currency ticker",
        "url": PROVIDER_URL,
        "description": "USD per one unit of each currency as the site's ticker quotes it, five decimals; "
                       "a day's rate is its latest quote.",
        "currencies": [USD, *stored],
        "start_date": first_last[0].isoformat() if first_last else None,
        "end_date": first_last[1].isoformat() if first_last else None,
    }])
