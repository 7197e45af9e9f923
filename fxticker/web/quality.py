"""The scorecard of the ticker against the central banks (official/scorecard.py) on the web: /api/quality
as JSON and CSV, its OpenAPI paths, and the data of the dashboard's section "How close is the ticker to
the banks?"."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import psycopg
from flask import Blueprint, Response, jsonify

from fxticker import vocab
from fxticker.export import csvfile
from fxticker.official import check, scorecard
from fxticker.storage import daily
from fxticker.web import cache, params
from fxticker.web.pool import read_connection

bp = Blueprint("quality", __name__, url_prefix="/api")

_PARAMS = (*params.CURRENCIES, "from", "to")


def _ask() -> tuple[list[str] | None, str, dt.date | None, dt.date | None]:
    """The native API's parameters, by its rules: currency codes, and dates not in the future."""
    args = params.query(_PARAMS)
    today = vocab.latest_today()
    codes, name = params.native_codes(args)
    start = params.parse_date("from", args["from"], today) if "from" in args else None
    end = params.parse_date("to", args["to"], today) if "to" in args else None
    if start and end:
        params.parse_range(start, end)
    return codes, name, start, end


def cards(conn: psycopg.Connection, codes: Sequence[str] | None, start: dt.date | None,
          end: dt.date | None, name: str = params.CURRENCIES[0]) -> list[dict[str, Any]]:
    """The scorecards asked for (scorecard.chosen); an unknown code is refused as by every endpoint."""
    stored = daily.stored_currencies(conn)
    if codes:
        params.check_known(codes, stored, name)
    chosen = scorecard.chosen(codes, stored)
    return scorecard.scorecard(conn, chosen, start, end).cards if chosen else []


@bp.get("/quality")
@cache.cached
def quality_json() -> Response:
    codes, name, start, end = _ask()
    with read_connection() as conn:
        return jsonify(cards(conn, codes, start, end, name))


@bp.get("/quality.csv")
@cache.cached
def quality_csv() -> Response:
    codes, name, start, end = _ask()
    with read_connection() as conn:
        found = cards(conn, codes, start, end, name)
    rows = [[csvfile.cell(value) for value in scorecard.csv_row(card)] for card in found]
    return Response("".join(csvfile.chunks(scorecard.CSV_COLUMNS, [rows])), mimetype="text/csv")


# ---- the dashboard's section ---------------------------------------------------------------------------

def section(conn: psycopg.Connection, codes: Sequence[str], start: dt.date, end: dt.date,
            days: int) -> dict[str, Any]:
    """The scorecards of the dashboard's selection and, per currency, its deviation from its bank over
    time (the mean per bucket of `days` days, counted from start, as the rate charts' points) and its
    stale runs, for dashboard.js."""
    found = scorecard.scorecard(conn, codes, start, end)
    quoted = found.quoted[found.quoted["deviation_pct"].notna()]
    origin = scorecard.day_number(start)
    bucket = origin + (quoted["day"] - origin) // days * days
    means = quoted.groupby([quoted["currency"], bucket])["deviation_pct"].mean().round(3)
    series: dict[str, dict[str, list[Any]]] = {c: {"x": [], "y": []} for c in codes}
    for code, points in means.groupby(level=0):
        # Day numbers count from 1970-01-01, as numpy's calendar days do: ISO dates of any year.
        dates = points.index.get_level_values(1).to_numpy(dtype="int64").astype("datetime64[D]").astype(str)
        series[str(code)] = {"x": dates.tolist(), "y": points.tolist()}
    runs: dict[str, list[list[str]]] = {c: [] for c in codes}
    for run in found.runs:
        runs[run["currency"]].append([run["first_date"], run["last_date"]])
    return {
        "cards": found.cards,
        "chart": {"bucket_days": days, "lines": [check.AGREES_PCT, check.DIFFERS_PCT],
                  "currencies": [{"code": c, "name": vocab.currency_name(c), **series[c], "stale": runs[c]}
                                 for c in codes]},
    }


# ---- OpenAPI -------------------------------------------------------------------------------------------

_NUMBER = {"type": ["number", "null"]}
_RUN = {
    "type": ["object", "null"], "additionalProperties": False, "required": list(scorecard.RUN_FIELDS),
    "properties": {"first_date": {"type": "string", "format": "date"},
                   "last_date": {"type": "string", "format": "date"},
                   "quoted_days": {"type": "integer", "minimum": scorecard.STALE_DAYS},
                   "official_move_pct": {"type": "number"}},
    "description": "The stale run with most quoted days (ties: the latest); null if none or no official "
                   "rate.",
}
_CARD = {
    "type": "object", "additionalProperties": False, "required": list(scorecard.FIELDS),
    "properties": {
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "from": {"type": ["string", "null"], "format": "date", "description": "First day of the range."},
        "to": {"type": ["string", "null"], "format": "date", "description": "Last day of the range."},
        "days_quoted": {"type": "integer", "minimum": 0,
                        "description": "Days with a ticker quote in the range (each day's latest)."},
        **{v: {"type": "integer", "minimum": 0, "description": f"Quoted days the check calls {v}."}
           for v in check.VERDICTS},
        "median_deviation_pct": {**_NUMBER, "description": "Median of the check's signed deviation_pct "
                                 "over the days it could check."},
        "resolution_pct": {**_NUMBER, "description": "Median width of a quote's precision band, in percent "
                           "of its midpoint."},
        "best_lag_days": {"type": ["integer", "null"], "minimum": 0, "maximum": scorecard.MAX_LAG,
                          "description": f"The k in 0..{scorecard.MAX_LAG} for which most quoted days' bands "
                          "hold the official rate of day t - k (ties: the smaller k)."},
        "lag_share": {**_NUMBER, "description": "That share, 0 to 1, of the quoted days with an official "
                      "rate of day t - k."},
        "same_day_share": {**_NUMBER, "description": "The share at k = 0."},
        "stale_runs": {"type": ["integer", "null"], "minimum": 0, "description": "Runs of at least "
                       f"{scorecard.STALE_DAYS} quoted days with the same rate while the official rate moved "
                       f"by more than {scorecard.STALE_MOVE_PCT:g}%."},
        "longest_stale_run": _RUN,
    },
}
_PARAMETERS = [
    *({"name": name, "in": "query", "required": False, "description": description,
       "schema": {"type": "string", "pattern": "^[A-Za-z]{3}(,[A-Za-z]{3})*$"}}
      for name, description in zip(params.CURRENCIES, ("Comma-separated currencies; default all.",
                                                         "Alias of currencies; not with currencies."),
                                   strict=True)),
    {"name": "from", "in": "query", "required": False, "description": "First day; default the first "
     "quoted.", "schema": {"type": "string", "format": "date"}},
    {"name": "to", "in": "query", "required": False, "description": "Last day; default the last quoted.",
     "schema": {"type": "string", "format": "date"}},
]
_DESCRIPTION = (
    "Per currency, how the ticker's quoted days compare with the central bank's official rate (the rate "
    f"of the day, else of the latest earlier day within {check.WINDOW.days} days): the check's verdicts, "
    "the median deviation, the quotes' resolution, the lag in days at which the ticker follows the bank, "
    "and stale runs. Null where no official rate is known."
)


def _operation(summary: str, media: str, schema: dict[str, Any]) -> dict[str, Any]:
    def ref(kind: str, name: str) -> dict[str, str]:
        return {"$ref": f"#/components/{kind}/{name}"}

    ok = {"description": summary, "content": {media: {"schema": schema}},
          "headers": {name: ref("headers", name)
                      for name in ("ETag", "Cache-Control", "Access-Control-Allow-Origin")}}
    return {"get": {"summary": summary, "description": _DESCRIPTION, "tags": ["native"],
                    "parameters": _PARAMETERS,
                    "responses": {"200": ok, "304": ref("responses", "NotModified"),
                                  "404": ref("responses", "NotFound"), "422": ref("responses", "BadInput"),
                                  "503": ref("responses", "Unavailable")}}}


# Spliced into /openapi.json's paths by web/openapi.py.
PATHS = {
    "/api/quality": _operation("Scorecards against the central banks", "application/json",
                               {"type": "array", "items": _CARD}),
    "/api/quality.csv": _operation("Scorecards as CSV", "text/csv", {"type": "string"}),
}
