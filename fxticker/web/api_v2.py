"""Frankfurter v2-compatible API: rates as rows of {date, base, quote, rate}, currencies and providers.

Behaviour follows lineofflight/frankfurter's lib/versions/v2.rb and lib/versions/v2/rate_query.rb; the
computation is fxticker.rates.pricing, over the app's providers (fxticker.rates.lineup).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import psycopg
from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from fxticker import vocab
from fxticker.export import csvfile
from fxticker.inputs import shown
from fxticker.rates import pricing
from fxticker.rates.pricing import Group, Rate
from fxticker.rates.registry import RateProvider
from fxticker.vocab import USD
from fxticker.web import cache, headers, params
from fxticker.web.errors import ApiError, BadInput, NotFound
from fxticker.web.frankfurter import (
    computed,
    iso_code,
    known_currencies,
    number,
    number_text,
    providers,
    resolve_base,
    resolve_quotes,
)
from fxticker.web.pool import read_connection

bp = Blueprint("api_v2", __name__, url_prefix="/v2")

_RATES_PARAMS = ("base", "quotes", "date", "from", "to", "group", "providers", "expand")
# Frankfurter's rollups (lib/versions/v2/rate_query.rb, validate_group!): a day series has no group.
_GROUPS: dict[str, Group] = {"week": "week", "month": "month"}


@bp.before_app_request
def _no_csv_here() -> None:
    """`.csv` on an endpoint that answers JSON only is a 406, as in Frankfurter (its CSV extension names
    a representation the endpoint does not offer); a path that is no endpoint stays a 404."""
    path = request.path
    if not (path.startswith("/v2/") and path.endswith(".csv")) or path == "/v2/rates.csv":
        return
    try:
        current_app.url_map.bind_to_environ(request.environ).match(path.removesuffix(".csv"), method="GET")
    except HTTPException:
        return
    raise ApiError(f"{shown(path.removesuffix('.csv'), 60)} answers JSON only; CSV is /v2/rates.csv", 406)


def selected_providers(raw: str | None) -> list[RateProvider]:
    """`providers=` keys (any case), or the default providers; an unknown key is a 422."""
    if raw is None:
        return providers().defaults()
    chosen: list[RateProvider] = []
    for part in raw.split(","):
        found = providers().find(part.strip())
        if found is None:
            known = ", ".join(p.key for p in providers().registered())
            raise BadInput(f"'providers' names an unknown provider ({shown(part.strip())}); "
                           f"known: {known}")
        if found not in chosen:
            chosen.append(found)
    return chosen


def _expand(raw: str | None) -> bool:
    if raw is None:
        return False
    if any(part.strip().lower() != "providers" for part in raw.split(",")):
        raise BadInput("'expand' takes 'providers'")
    return True


# Under expand=providers, each provider's own rate for a pair: (row date or None for a snapshot, base,
# quote) -> (provider key, its day, its rate). Frankfurter lists every provider's rate for the row and
# marks `excluded` the ones that did not make it.
Others = dict[tuple[dt.date | None, str, str], list[tuple[str, dt.date, Decimal]]]


def each_provider(compute: Callable[[list[RateProvider]], list[Rate]], dated: bool) -> Others:
    """Every registered provider's rates for the same request, computed from its quotes alone."""
    found: Others = {}
    for provider in providers().registered():
        for r in compute([provider]):
            if r.base != r.quote:
                found.setdefault((r.date if dated else None, r.base, r.quote), []).append(
                    (provider.key, r.date, r.value))
    return found


def _entries(rate: Rate, others: Others | None, amount: Decimal) -> list[tuple[str, dt.date, Decimal, bool]]:
    """(key, day, priced rate, excluded) per provider, the one that made the row first."""
    found = others or {}
    listed = found.get((rate.date, rate.base, rate.quote)) or found.get((None, rate.base, rate.quote)) or []
    own = [e for e in listed if e[0] == rate.provider] or [(str(rate.provider), rate.date, rate.value)]
    rest = [e for e in listed if e[0] != rate.provider]
    return [(key, day, pricing.priced(value, amount), key != rate.provider) for key, day, value in own + rest]


def row(rate: Rate, amount: Decimal = Decimal(1), expand: bool = False,
        others: Others | None = None) -> dict[str, Any]:
    value = number(pricing.priced(rate.value, amount))
    out: dict[str, Any] = {"date": rate.date.isoformat(), "base": rate.base, "quote": rate.quote,
                           "rate": value}
    if expand and rate.provider is not None:
        out["providers"] = [{"key": key, "date": day.isoformat(), "rate": number(value),
                             **({"excluded": True} if excluded else {})}
                            for key, day, value, excluded in _entries(rate, others, amount)]
    return out


def _lookup(conn: psycopg.Connection) -> tuple[list[Rate], Others | None]:
    args = request.args
    params.reject_unknown(args, _RATES_PARAMS)
    today = vocab.latest_today()
    sources = selected_providers(args.get("providers"))
    expand = _expand(args.get("expand"))
    known = known_currencies(conn, sources)
    base = resolve_base("base", args.get("base", USD), known)
    quotes = resolve_quotes("quotes", args["quotes"], known) if "quotes" in args else list(known)
    if "date" in args and ("from" in args or "to" in args):
        raise BadInput("give either 'date' or 'from'/'to', not both")
    if "to" in args and "from" not in args:
        raise BadInput("'to' needs 'from'")
    group: Group = "day"
    if "group" in args:
        # Any case, as Frankfurter reads it (group&.downcase).
        group = _GROUPS[params.parse_choice("group", args["group"].lower(), list(_GROUPS))]
    if "from" in args:
        # No bound on a date: a future one asks for the latest data (Frankfurter's behaviour).
        start = params.parse_date("from", args["from"], dt.date.max)
        end = params.parse_date("to", args["to"], dt.date.max) if "to" in args else today
        try:
            vocab.date_range(start, end)
        except vocab.BadValue:  # Frankfurter's range from a later day to an earlier one: no rows
            return [], {} if expand else None
        def series(chosen: list[RateProvider]) -> list[Rate]:
            # The snap-back in the key: v1 asks the same series without its bound.
            return computed(conn, ("series", tuple(p.key for p in chosen), base, tuple(quotes), start, end,
                                   today, group, pricing.LOOKBACK),
                            lambda: pricing.series(conn, chosen, base, quotes, start, end, today=today,
                                                 group=group, snap_back=pricing.LOOKBACK))
        return series(list(sources)), each_provider(series, dated=True) if expand else None
    if "group" in args:
        raise BadInput("'group' applies to a series: give 'from'")
    on = params.parse_date("date", args["date"], dt.date.max) if "date" in args else today
    def snapshot(chosen: list[RateProvider]) -> list[Rate]:
        return computed(conn, ("snapshot", tuple(p.key for p in chosen), base, tuple(quotes), on),
                        lambda: pricing.snapshot(conn, chosen, base, quotes, on))
    return snapshot(list(sources)), each_provider(snapshot, dated=False) if expand else None


@bp.get("/rates")
@cache.cached
def rates_json() -> Response:
    with read_connection() as conn:
        found, others = _lookup(conn)
    rows = [row(r, expand=others is not None, others=others) for r in found]
    if headers.wants_ndjson():
        # One row per line; built whole so it gets an ETag and a place in the cache like the JSON.
        return Response("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows),
                        mimetype=headers.NDJSON)
    return jsonify(rows)


@bp.get("/rates.csv")
@cache.cached
def rates_csv() -> Response:
    with read_connection() as conn:
        found, others = _lookup(conn)
    expand = others is not None
    rows = []
    for r in found:
        value = pricing.priced(r.value, Decimal(1))
        # KEY:rate for each provider, the row's own first; '!' marks one that did not make the row.
        extra = [";".join(f"{key}{'!' if excluded else ''}:{number_text(priced)}"
                          for key, _, priced, excluded in _entries(r, others, Decimal(1)))] if expand else []
        rows.append([r.date.isoformat(), r.base, r.quote, number_text(value), *extra])
    header = ["date", "base", "quote", "rate", *(["providers"] if expand else [])]
    # The rows are in memory already (computed and kept per data version): one chunk, a whole body.
    return Response("".join(csvfile.chunks(header, [rows])), content_type=csvfile.CONTENT_TYPE)


@bp.get("/rate/<base>/<quote>")
@cache.cached
def one_rate(base: str, quote: str) -> Response:
    """One pair; the same snapshot as /v2/rates, so the two agree. Same-currency pairs answer 1."""
    params.reject_unknown(request.args, ("date", "providers", "expand"))
    base_code, quote_code = iso_code("base", base), iso_code("quote", quote)
    today = vocab.latest_today()
    on = params.parse_date("date", request.args["date"], dt.date.max) if "date" in request.args else today
    with read_connection() as conn:
        sources = selected_providers(request.args.get("providers"))
        known = known_currencies(conn, sources)
        for code in (base_code, quote_code):
            if code not in known:
                raise NotFound(f"no rates for {code}; known: {', '.join(known)}")
        def snapshot(chosen: list[RateProvider]) -> list[Rate]:
            key = ("snapshot", tuple(p.key for p in chosen), base_code, (quote_code,), on)
            return computed(conn, key, lambda: pricing.snapshot(conn, chosen, base_code, [quote_code], on))
        found = snapshot(list(sources))
        expand = _expand(request.args.get("expand"))
        others = each_provider(snapshot, dated=False) if expand else None
    if not found:
        raise NotFound(f"no {base_code}/{quote_code} rate on or before {on.isoformat()}")
    return jsonify(row(found[0], expand=expand, others=others))


def currency(code: str, span: tuple[dt.date, dt.date] | None) -> dict[str, Any]:
    """Frankfurter's currency fields: ISO numeric (three digits), name, symbol, first and last day."""
    entry = vocab.iso_currency(code)
    return {
        "iso_code": code,
        "iso_numeric": f"{entry.number:03d}" if entry else None,
        "name": vocab.currency_name(code, frankfurter=True),
        "symbol": vocab.currency_symbol(code),
        "start_date": span[0].isoformat() if span else None,
        "end_date": span[1].isoformat() if span else None,
    }


def _spans(conn: psycopg.Connection, sources: Sequence[RateProvider]) -> dict[str, tuple[dt.date, dt.date]]:
    """Each code's first and last day over the providers; USD's are those of any quote (its pivot)."""
    spans: dict[str, tuple[dt.date, dt.date]] = {}
    for provider in sources:
        for code, (first, last) in provider.spans(conn, provider.currencies(conn)).items():
            have = spans.get(code)
            spans[code] = (min(first, have[0]), max(last, have[1])) if have else (first, last)
    if spans:
        spans[USD] = (min(s[0] for s in spans.values()), max(s[1] for s in spans.values()))
    return spans


@bp.get("/currencies")
@cache.cached
def currencies() -> Response:
    params.reject_unknown(request.args, ("providers", "scope"))
    if request.args.get("scope", "all") != "all":
        raise BadInput("'scope' takes 'all'")
    with read_connection() as conn:
        spans = _spans(conn, selected_providers(request.args.get("providers")))
    return jsonify([currency(code, spans[code]) for code in sorted(spans)])


@bp.get("/currency/<code>")
@cache.cached
def one_currency(code: str) -> Response:
    params.reject_unknown(request.args, ())
    code = params.path_code(code)
    with read_connection() as conn:
        by_provider = {p.key: p.spans(conn, p.currencies(conn)) for p in providers().registered()}
    keys = [key for key, spans in by_provider.items() if spans and (code == USD or code in spans)]
    if not keys:
        raise NotFound(f"no currency {code} here")
    found = [s[code] if code != USD else (min(v[0] for v in s.values()), max(v[1] for v in s.values()))
             for key, s in by_provider.items() if key in keys]
    span = (min(f[0] for f in found), max(f[1] for f in found))
    return jsonify({**currency(code, span), "providers": sorted(keys)})


@bp.get("/providers")
@cache.cached
def providers_list() -> Response:
    params.reject_unknown(request.args, ())
    today = vocab.latest_today()
    with read_connection() as conn:
        entries = [p.describe(conn, today) for p in providers().registered()]
    return jsonify(sorted((e for e in entries if e is not None), key=lambda e: str(e["key"])))
