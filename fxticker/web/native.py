"""The native API: observations exactly as the ticker quoted them, with precision bounds and provenance."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from flask import Blueprint, current_app
from werkzeug.wrappers import Response

from fxticker import vocab
from fxticker.export import csvfile
from fxticker.official.check import OFFICIAL_COLUMNS
from fxticker.storage import daily
from fxticker.storage import observations as store
from fxticker.web import params, stream
from fxticker.web.official_view import official_fields

bp = Blueprint("native", __name__, url_prefix="/api")

_PARAMS = (*params.CURRENCIES, "from", "to", "revisions")

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


@dataclass(frozen=True)
class _Ask:
    codes: list[str] | None
    name: str  # the parameter the codes came in, for messages
    start: dt.date
    end: dt.date
    all_revisions: bool


def _ask() -> _Ask:
    args = params.query(_PARAMS)
    today = vocab.latest_today()
    codes, name = params.native_codes(args)
    start = params.parse_date("from", args["from"], today) if "from" in args else vocab.EARLIEST
    end = params.parse_date("to", args["to"], today) if "to" in args else today
    params.parse_range(start, end)
    revisions = params.parse_choice("revisions", args.get("revisions", "latest"), ("latest", "all"))
    return _Ask(codes, name, start, end, revisions == "all")


def _batches(conn: psycopg.Connection, ask: _Ask) -> Iterator[list[dict[str, Any]]]:
    """The answer's rows, store.BATCH_ROWS at a time; an unknown code is refused before the first."""
    codes = ask.codes
    if codes:
        params.check_known(codes, daily.stored_currencies(conn), ask.name)
        # USD is every quote's unit, never quoted itself.
        codes = [c for c in codes if c != vocab.USD]
        if not codes:
            return iter(())
    batches = store.observations(conn, currencies=codes, start=ask.start, end=ask.end,
                                 all_revisions=ask.all_revisions, size=store.BATCH_ROWS)
    return ([_row(r) for r in batch] for batch in batches)


def _json(batches: Iterator[list[dict[str, Any]]], dumps: Callable[[Any], str]) -> Iterator[str]:
    """A JSON array written a batch at a time, byte for byte as jsonify writes the whole list. The
    closing bracket goes with the last batch: an answer of one batch is one chunk."""
    previous = None
    for batch in batches:
        if previous is not None:
            yield previous
        previous = ("[" if previous is None else ",") + ",".join(map(dumps, batch))
    yield (previous or "[") + "]\n"


@bp.get("/observations")
def observations() -> Response:
    ask = _ask()
    dumps = functools.partial(current_app.json.dumps, separators=(",", ":"))
    return stream.respond(lambda conn: _json(_batches(conn, ask), dumps), content_type="application/json")


@bp.get("/observations.csv")
def observations_csv() -> Response:
    ask = _ask()

    def produce(conn: psycopg.Connection) -> Iterator[str]:
        rows = ([[csvfile.cell(row[c]) for c in COLUMNS] for row in batch] for batch in _batches(conn, ask))
        return csvfile.chunks(COLUMNS, rows)

    return stream.respond(produce, content_type=csvfile.CONTENT_TYPE)
