"""The native API: observations exactly as the ticker quoted them, with precision bounds and provenance."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from flask import Blueprint, jsonify, request
from werkzeug.wrappers import Response

from fxticker import store
from fxticker.web import read_connection
from fxticker.web.errors import BadInput

bp = Blueprint("native", __name__, url_prefix="/api")

_CODE = re.compile(r"^[A-Z]{3}$")
_PARAMS = {"currency", "from", "to", "revisions"}


def _date(name: str, default: dt.date) -> dt.date:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise BadInput(f"'{name}' must be a date of the form YYYY-MM-DD") from None


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
        "units_per_usd_low": _text((1 / high).quantize(Decimal("0.01"))),
        "units_per_usd_high": _text((1 / low).quantize(Decimal("0.01"))),
        "revisions": row["revisions"],
        "revision": row["revision_rank"],
        "sightings": row["sightings"],
        "first_seen": row["first_seen"].isoformat(),
        "last_seen": row["last_seen"].isoformat(),
        "source": row["last_source"],
        "first_source": row["first_source"],
    }


@bp.get("/observations")
def observations() -> Response:
    unknown = sorted(set(request.args) - _PARAMS)
    if unknown:
        raise BadInput(f"unknown parameter: {', '.join(unknown)[:100]}")
    currency = request.args.get("currency")
    codes = None
    if currency:
        codes = [c.strip().upper() for c in currency.split(",")]
        bad = [c for c in codes if not _CODE.match(c)]
        if bad:
            raise BadInput("'currency' takes three-letter codes such as KZT, separated by commas")
    start = _date("from", dt.date(2000, 1, 1))
    end = _date("to", dt.date.today())
    if start > end:
        raise BadInput("'from' is after 'to'")
    revisions = request.args.get("revisions", "latest")
    if revisions not in ("latest", "all"):
        raise BadInput("'revisions' must be 'latest' or 'all'")
    with read_connection() as conn:
        rows = store.observations(
            conn, currencies=codes, start=start, end=end, all_revisions=revisions == "all"
        )
    return jsonify([_row(r) for r in rows])
