"""The native API: observations exactly as the ticker quoted them, with precision bounds and provenance."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Blueprint, Response, jsonify

from fxticker import rates, store, vocab
from fxticker.official.web import OFFICIAL_COLUMNS, official_fields
from fxticker.web import params
from fxticker.web.cache import cached
from fxticker.web.db import read_connection

bp = Blueprint("native", __name__, url_prefix="/api")

_PARAMS = ("currency", "from", "to", "revisions")

COLUMNS: tuple[str, ...] = (
    "date", "currency", "rate", "change_pct", "direction", "usd_per_unit_low", "usd_per_unit_high",
    "units_per_usd_low", "units_per_usd_high", "revisions", "revision", "sightings", "first_seen",
    "last_seen", "source", "first_source", *OFFICIAL_COLUMNS,
)


def _row(row: dict[str, Any]) -> dict[str, Any]:
    usd_low, usd_high, units_low, units_high = vocab.bounds(row["rate"]).texts()
    return {
        "date": row["rate_date"].isoformat(),
        "currency": row["currency"],
        "rate": vocab.decimal_text(row["rate"]),
        "change_pct": vocab.change_text(row["change_pct"], row["direction"]),
        "direction": row["direction"],
        "usd_per_unit_low": usd_low,
        "usd_per_unit_high": usd_high,
        "units_per_usd_low": units_low,
        "units_per_usd_high": units_high,
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
    args = params.query(_PARAMS)
    today = params.latest_today()
    codes = params.parse_codes("currency", args["currency"]) if "currency" in args else None
    start = params.parse_date("from", args["from"], today) if "from" in args else vocab.EARLIEST
    end = params.parse_date("to", args["to"], today) if "to" in args else today
    params.parse_range(start, end)
    revisions = params.parse_choice("revisions", args.get("revisions", "latest"), ("latest", "all"))
    with read_connection() as conn:
        if codes:
            params.check_known(codes, rates.stored_currencies(conn), "currency")
            # USD is every quote's unit, never quoted itself.
            codes = [c for c in codes if c != vocab.USD]
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
