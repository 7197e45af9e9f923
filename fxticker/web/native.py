"""The native API: observations exactly as the ticker quoted them, with precision bounds and provenance."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal
from typing import Any

from flask import Blueprint, Response, jsonify, request

from fxticker import rates, store
from fxticker.official.web import OFFICIAL_COLUMNS, official_fields
from fxticker.web import params
from fxticker.web.cache import cached
from fxticker.web.db import read_connection
from fxticker.web.errors import BadInput

bp = Blueprint("native", __name__, url_prefix="/api")

_PARAMS = ("currency", "from", "to", "revisions")
EARLIEST = dt.date(2000, 1, 1)
# Inverted bounds are rounded outward to this many significant digits, so the interval shown always
# contains every rate that rounds to the quote.
INVERSE_DIGITS = 8
_DOWN = Context(prec=INVERSE_DIGITS, rounding=ROUND_FLOOR)
_UP = Context(prec=INVERSE_DIGITS, rounding=ROUND_CEILING)

COLUMNS: tuple[str, ...] = (
    "date", "currency", "rate", "change_pct", "direction", "usd_per_unit_low", "usd_per_unit_high",
    "units_per_usd_low", "units_per_usd_high", "revisions", "revision", "sightings", "first_seen",
    "last_seen", "source", "first_source", *OFFICIAL_COLUMNS,
)


def _text(value: Decimal) -> str:
    return format(value, "f")


def _row(row: dict[str, Any]) -> dict[str, Any]:
    change = _text(row["change_pct"])
    if row["direction"] == "down" and not change.startswith("-"):
        change = "-" + change
    low, high = row["rate_low"], row["rate_high"]
    return {
        "date": row["rate_date"].isoformat(),
        "currency": row["currency"],
        "rate": _text(row["rate"]),
        "change_pct": change,
        "direction": row["direction"],
        "usd_per_unit_low": _text(low.normalize()),
        "usd_per_unit_high": _text(high.normalize()),
        "units_per_usd_low": _text(_DOWN.divide(1, high).normalize()),
        "units_per_usd_high": _text(_UP.divide(1, low).normalize()),
        "revisions": row["revisions"],
        "revision": row["revision_rank"],
        "sightings": row["sightings"],
        "first_seen": row["first_seen"].isoformat(),
        "last_seen": row["last_seen"].isoformat(),
        "source": row["last_source"],
        "first_source": row["first_source"],
        **official_fields(row),
    }


def _observations() -> list[dict[str, Any]]:
    args = request.args
    params.reject_unknown(args, _PARAMS)
    today = params.latest_today()
    codes = params.parse_codes("currency", args["currency"]) if args.get("currency") else None
    start = params.parse_date("from", args["from"], today) if "from" in args else EARLIEST
    end = params.parse_date("to", args["to"], today) if "to" in args else today
    params.parse_range(start, end)
    revisions = args.get("revisions", "latest")
    if revisions not in ("latest", "all"):
        raise BadInput("'revisions' must be 'latest' or 'all'")
    with read_connection() as conn:
        if codes:
            params.check_known(codes, rates.stored_currencies(conn))
            # USD is every quote's unit, never quoted itself.
            codes = [c for c in codes if c != rates.USD]
            if not codes:
                return []
        rows = store.observations(
            conn, currencies=codes, start=start, end=end, all_revisions=revisions == "all"
        )
    return [_row(r) for r in rows]


@bp.get("/observations")
@cached
def observations() -> Response:
    return jsonify(_observations())


@bp.get("/observations.csv")
@cached
def observations_csv() -> Response:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(_observations())
    return Response(out.getvalue(), mimetype="text/csv")
