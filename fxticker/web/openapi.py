"""The OpenAPI 3.1 description of every API endpoint, built here and served at /openapi.json."""

from __future__ import annotations

from functools import cache
from typing import Any

from flask import Blueprint, Response, jsonify

from fxticker import vocab
from fxticker.official.check import OFFICIAL_COLUMNS
from fxticker.rates import pricing
from fxticker.storage.observations import BATCH_ROWS
from fxticker.web import quality
from fxticker.web.official_view import OFFICIAL_PROPERTIES

bp = Blueprint("openapi", __name__)

_DATE_PATTERN = f"^{vocab.DATE_PATTERN}$"
_CODE = {"type": "string", "pattern": "^[A-Z]{3}$", "examples": ["KZT"]}
_CODES = {"type": "string", "pattern": "^[A-Za-z]{3}(,[A-Za-z]{3})*$"}
_DATE = {"type": "string", "format": "date", "examples": ["2025-12-19"]}
ROUNDING = (
    "Rates are computed from the quotes (USD per unit of each currency; USD's own is 1: rate(base -> "
    "quote) = usd_per_unit(base) / usd_per_unit(quote)), multiplied by amount, and rounded once in "
    "Frankfurter's magnitude bands: above 5000 to a whole number, above 80 to 2 decimals, above 20 to 3, "
    "above 1 to 4, above 0.0001 to 5, else 6; returned as JSON numbers. The ticker quotes five decimals, "
    "so some quotes carry few significant digits (UZS 0.00008 has one: 1 USD is 11,765 to 13,333 UZS); "
    "/api/observations gives each quote as an exact string with the bounds its precision allows."
)
NEAREST = (
    f"Each currency's rate is its latest quote within {pricing.LOOKBACK.days} days on or before the day, and "
    "each row is dated by the day its quote was made; a date after the last stored day answers the latest "
    "rates; a date before the first data answers no rows."
)
SERIES = (
    f"A series starts on the nearest day with data on or before 'from' (at most {pricing.LOOKBACK.days} days "
    "before it) and lists, per day, the currencies quoted that day (the base's quote carried forward up to "
    f"{pricing.LOOKBACK.days} days); a 'to' in the future runs to the latest data; a 'from' after today or "
    "after 'to' answers no rows."
)


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _path(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": description}


def _ok(schema: dict[str, Any], description: str, media: str = "application/json") -> dict[str, Any]:
    return {
        "description": description,
        "headers": {
            "ETag": _ref("headers", "ETag"),
            "Cache-Control": _ref("headers", "Cache-Control"),
            "Access-Control-Allow-Origin": _ref("headers", "Access-Control-Allow-Origin"),
        },
        "content": {media: {"schema": schema}},
    }


def _ndjson(ok: dict[str, Any]) -> dict[str, Any]:
    """The same rows as NDJSON (one JSON object a line) when Accept names application/x-ndjson."""
    content = {**ok["content"], "application/x-ndjson": {"schema": {"type": "string"}}}
    return {**ok, "content": content}


STREAMED = (f"Every row is returned, however many: an answer of more than {BATCH_ROWS:,} rows is "
            "streamed as it is read from the database (without ETag or Content-Length), so its size costs "
            "the server no memory.")


def _streamed(ok: dict[str, Any]) -> dict[str, Any]:
    ok["headers"]["ETag"] = _ref("headers", "ETagIfWhole")
    return ok


def _get(summary: str, description: str, parameters: list[dict[str, Any]], ok: dict[str, Any],
         tag: str) -> dict[str, Any]:
    return {"get": {
        "summary": summary,
        "description": description,
        "tags": [tag],
        "parameters": parameters,
        "responses": {
            "200": ok,
            "304": _ref("responses", "NotModified"),
            "404": _ref("responses", "NotFound"),
            "422": _ref("responses", "BadInput"),
            "503": _ref("responses", "Unavailable"),
        },
    }}


def _schemas() -> dict[str, Any]:
    number = {"type": "number", "exclusiveMinimum": 0}
    currency = {
        "iso_code": _ref("schemas", "Code"),
        "iso_numeric": {"type": ["string", "null"], "pattern": "^[0-9]{3}$",
                        "description": "ISO 4217 numeric code."},
        "name": {"type": "string"},
        "symbol": {"type": ["string", "null"]},
        "start_date": {"anyOf": [_DATE, {"type": "null"}], "description": "First day with data."},
        "end_date": {"anyOf": [_DATE, {"type": "null"}], "description": "Last day with data."},
    }
    return {
        "Error": {
            "type": "object",
            "required": ["status", "message"],
            "additionalProperties": False,
            "properties": {
                "status": {"type": "integer", "examples": [422]},
                "message": {"type": "string", "examples": ["unknown currency XYZ; known: USD, KGS, KZT"]},
            },
        },
        "Code": _CODE,
        "Rate": {
            "type": "object",
            "required": ["date", "base", "quote", "rate"],
            "additionalProperties": False,
            "properties": {
                "date": {**_DATE, "description": "The day the quote was made (see the carry-forward rule); "
                         "a grouped series gives the period's date (see group)."},
                "base": _ref("schemas", "Code"),
                "quote": _ref("schemas", "Code"),
                "rate": {**number, "description": "Units of quote per unit of base (1 when they are the "
                         "same). " + ROUNDING},
                "providers": {
                    "type": "array",
                    "description": "With expand=providers: every provider's own rate for the pair, its "
                                   "day and rate; `excluded` marks those whose quote did not make the "
                                   "row. Absent on the identity row.",
                    "items": {
                        "type": "object",
                        "required": ["key", "date", "rate"],
                        "additionalProperties": False,
                        "properties": {"key": {"type": "string"}, "date": _DATE, "rate": number,
                                       "excluded": {"const": True}},
                    },
                },
            },
        },
        "Currency": {
            "type": "object",
            "required": list(currency),
            "additionalProperties": False,
            "properties": currency,
        },
        "CurrencyDetail": {
            "type": "object",
            "required": [*currency, "providers"],
            "additionalProperties": False,
            "properties": {**currency, "providers": {
                "type": "array", "items": {"type": "string"},
                "description": "Keys of the providers that quote it (every provider for USD, the pivot)."}},
        },
        "Provider": {
            "type": "object",
            "required": ["key", "name", "country_code", "rate_type", "pivot_currency", "data_url",
                         "terms_url", "start_date", "end_date", "publish_cadence", "publishes_missed",
                         "currencies"],
            "additionalProperties": False,
            "properties": {
                "key": {"type": "string", "pattern": "^[A-Z0-9]+$"},
                "name": {"type": "string"},
                "country_code": {"type": ["string", "null"]},
                "rate_type": {"type": ["string", "null"]},
                "pivot_currency": {"type": ["string", "null"]},
                "data_url": {"type": ["string", "null"]},
                "terms_url": {"type": ["string", "null"]},
                "start_date": {"anyOf": [_DATE, {"type": "null"}], "description": "First day with data."},
                "end_date": {"anyOf": [_DATE, {"type": "null"}], "description": "Last day with data."},
                "publish_cadence": {"enum": ["daily", "weekly", "monthly", None]},
                "publishes_missed": {"type": ["integer", "null"], "minimum": 0,
                                     "description": "Publishing days strictly between end_date and today."},
                "currencies": {"type": "array", "items": _ref("schemas", "Code")},
            },
        },
        "V1Rates": {"type": "object", "propertyNames": {"pattern": "^[A-Z]{3}$"},
                    "additionalProperties": number, "description": ROUNDING},
        "V1Day": {
            "type": "object",
            "required": ["amount", "base", "date", "rates"],
            "additionalProperties": False,
            "properties": {
                "amount": number,
                "base": _ref("schemas", "Code"),
                "date": _DATE,
                "rates": _ref("schemas", "V1Rates"),
            },
        },
        "V1Range": {
            "type": "object",
            "required": ["amount", "base", "start_date", "end_date", "rates"],
            "additionalProperties": False,
            "properties": {
                "amount": number,
                "base": _ref("schemas", "Code"),
                "start_date": {**_DATE, "description": "First day in the range with data."},
                "end_date": {**_DATE, "description": "Last day in the range with data."},
                "rates": {"type": "object", "propertyNames": {"pattern": _DATE_PATTERN},
                          "additionalProperties": _ref("schemas", "V1Rates")},
            },
        },
        "Observation": {
            "type": "object",
            "additionalProperties": False,
            "required": ["date", "currency", "rate", "change_pct", "direction", "usd_per_unit_low",
                         "usd_per_unit_high", "units_per_usd_low", "units_per_usd_high", "revisions",
                         "revision", "sightings", "first_seen", "last_seen", "source", "first_source",
                         *OFFICIAL_COLUMNS],
            "properties": {
                "date": _DATE,
                "currency": _ref("schemas", "Code"),
                "rate": {"type": "string", "description": "USD per one unit, exactly as quoted (0.28490).",
                         "examples": ["0.00193"]},
                "change_pct": {"type": "string", "description": "The day's change in percent as quoted; "
                               "a quoted -0 (a fall rounded to zero) stays -0.", "examples": ["-0"]},
                "direction": {"enum": list(vocab.DIRECTIONS)},
                "usd_per_unit_low": {"type": "string", "description": "Lowest USD per unit that rounds "
                                     "to the quote (exact)."},
                "usd_per_unit_high": {"type": "string", "description": "Highest USD per unit that rounds "
                                      "to the quote (exact)."},
                "units_per_usd_low": {"type": "string", "description": "Lowest units per USD the quote "
                                      f"allows, rounded down to {vocab.INVERSE_DIGITS} significant digits."},
                "units_per_usd_high": {"type": "string", "description": "Highest units per USD the quote "
                                       f"allows, rounded up to {vocab.INVERSE_DIGITS} significant digits."},
                "revisions": {"type": "integer", "minimum": 1, "description": "Distinct quotes that day."},
                "revision": {"type": "integer", "minimum": 1, "description": "1 = the day's latest."},
                "sightings": {"type": "integer", "minimum": 1},
                "first_seen": {"type": "string", "format": "date-time"},
                "last_seen": {"type": "string", "format": "date-time"},
                "source": {"type": "string", "description": "URL or path of the latest capture."},
                "first_source": {"type": "string", "description": "URL or path of the first capture."},
                **OFFICIAL_PROPERTIES,
            },
        },
    }


def _components() -> dict[str, Any]:
    def error(description: str) -> dict[str, Any]:
        return {"description": description,
                "content": {"application/json": {"schema": _ref("schemas", "Error")}}}

    return {
        "schemas": _schemas(),
        "responses": {
            "BadInput": error("A parameter is unknown, malformed or out of range (a code that is not ISO "
                              "4217, an unknown provider, a malformed date, amount not a positive number)."),
            "NotFound": error("No rates for the base or for any of the listed currencies (ISO codes "
                              "without data here), no data for the day, or no such endpoint."),
            "Unavailable": error("The database is unreachable; try again shortly."),
            "MethodNotAllowed": error("Only GET, HEAD and OPTIONS are served."),
            "NotModified": {"description": "The representation matches If-None-Match."},
        },
        "headers": {
            "ETag": {"required": True, "schema": {"type": "string"},
                     "description": "Strong validator of the body; send it back as If-None-Match."},
            "ETagIfWhole": {"required": False, "schema": {"type": "string"},
                            "description": "Strong validator of an answer sent whole; a streamed one has "
                                           "none."},
            "Cache-Control": {"required": True, "schema": {"type": "string"},
                              "description": "public; a day for settled days, else until the next scrape"},
            "Access-Control-Allow-Origin": {"required": True, "schema": {"const": "*"}},
        },
    }


_PROVIDERS = _query("providers", {"type": "string", "pattern": "^[A-Za-z0-9]+(,[A-Za-z0-9]+)*$",
                                     "examples": ["TIMESCA"]},
                    "Comma-separated provider keys, any case (see /v2/providers, which writes them in upper "
                    "case); default the ticker (TIMESCA) alone: "
                    "the official providers (NBK, CBU, NBKR, NBT, PEG) answer when named.")
_EXPAND = _query("expand", {"enum": ["providers"]},
                 "providers: each row lists every provider's rate for the pair, the one behind it first.")


def _v2_rates_parameters() -> list[dict[str, Any]]:
    return [
        _query("base", _CODE, "Currency to convert from; default USD."),
        _query("quotes", {"type": "string", "pattern": "^[A-Za-z]{3}(,[A-Za-z]{3})*$",
                          "examples": ["KZT,UZS"]},
               "Comma-separated currencies to convert to; default every currency, the base included "
               "(its identity row, rate 1). ISO codes without data here are left out."),
        _query("date", _DATE, "One day (not with from/to). " + NEAREST),
        _query("from", _DATE, "First day of a series. " + SERIES),
        _query("to", _DATE, "Last day of a series (needs from); default today."),
        _query("group", {"enum": ["week", "month"]},
               "Downsample a series (needs from; any case): one row per quote and period (a week from "
               "Monday, cut at a new year, dated 1 January + 7 x its %W number as Frankfurter does; a month, "
               "by its 1st), from the period's average units per USD; from the nearest period dated on or "
               "before 'from' to the last dated on or before 'to'."),
        _PROVIDERS,
        _EXPAND,
    ]


def _paths() -> dict[str, Any]:
    v1_params = [
        _query("base", _CODE, "Currency to convert from (or 'from'); default USD."),
        _query("from", _CODE, "Same as base."),
        _query("symbols", _CODES, "Comma-separated currencies to convert to (or 'to'); default all others."),
        _query("to", _CODES, "Same as symbols."),
        _query("amount", {"type": "string", "pattern": "^[0-9]{1,15}(\\.[0-9]{1,15})?$",
                          "examples": ["10", "2.5"]}, "Amount of base to convert (positive); default 1."),
    ]
    v1_one = _ref("schemas", "V1Day")
    rates_list = {"type": "array", "items": _ref("schemas", "Rate")}
    observations = [
        _query("currencies", _CODES, "Comma-separated currencies; default all."),
        _query("currency", _CODES, "Alias of currencies (its earlier name); not with currencies."),
        _query("from", _DATE, f"First day; default {vocab.EARLIEST}."),
        _query("to", _DATE, "Last day; default today."),
        _query("revisions", {"enum": ["latest", "all"]},
               "latest: each day's latest quote (default); all: every distinct quote of the day."),
    ]
    return {
        "/v2/rates": _get("Rates: latest, one day or a series", ROUNDING + " " + NEAREST,
                          _v2_rates_parameters(), _ndjson(_ok(rates_list, "A day's rows by quote; a series' "
                                                              "by date, then quote.")), "v2"),
        "/v2/rates.csv": _get("Rates as CSV", "Same as /v2/rates, as CSV with header date,base,quote,rate.",
                              _v2_rates_parameters(),
                              _ok({"type": "string"}, "CSV, one row per date and quote.", "text/csv"), "v2"),
        "/v2/rate/{base}/{quote}": _get(
            "One rate", ROUNDING + " " + NEAREST,
            [_path("base", _CODE, "From."), _path("quote", _CODE, "To (the base itself answers 1)."),
             _query("date", _DATE, "The day; default latest."), _PROVIDERS, _EXPAND],
            _ok(_ref("schemas", "Rate"), "The rate, as /v2/rates gives it."), "v2"),
        "/v2/currencies": _get("Currencies", "USD and every currency with data, sorted by code.",
                               [_PROVIDERS, _query("scope", {"enum": ["all"]},
                                                   "Accepted for Frankfurter clients; the same list.")],
                               _ok({"type": "array", "items": _ref("schemas", "Currency")}, "Currencies."),
                               "v2"),
        "/v2/currency/{code}": _get("One currency", "USD or a currency with data; others are 404.",
                                    [_path("code", _CODE, "ISO 4217 code.")],
                                    _ok(_ref("schemas", "CurrencyDetail"), "The currency."), "v2"),
        "/v2/providers": _get(
            "Providers", "The sources of the rates (the ticker, and any other registered provider).", [],
            _ok({"type": "array", "items": _ref("schemas", "Provider")}, "Providers, by key."), "v2"),
        "/v1/latest": _get("Latest rates (Frankfurter v1)", ROUNDING + " " + NEAREST, v1_params,
                           _ok(v1_one, "The latest rates."), "v1"),
        "/v1/current": _get("Latest rates (Frankfurter v1 alias of /v1/latest)", ROUNDING, v1_params,
                            _ok(v1_one, "The latest rates."), "v1"),
        "/v1/{period}": _get(
            "Rates on a day or over a range (Frankfurter v1)",
            "YYYY-MM-DD for one day (" + NEAREST + "), START..END for a range, START.. for a range to "
            "today. " + SERIES + " " + ROUNDING,
            [_path("period", {"type": "string", "pattern": f"^{vocab.DATE_PATTERN}"
                              f"(\\.\\.({vocab.DATE_PATTERN})?)?$",
                              "examples": ["2025-12-19", "2025-12-01..2025-12-19", "2025-12-01.."]},
                   "A day, or a range."), *v1_params],
            _ok({"anyOf": [v1_one, _ref("schemas", "V1Range")]}, "Rates."), "v1"),
        "/v1/currencies": _get("Currencies (Frankfurter v1)", "Code to name.", [],
                               _ok({"type": "object", "additionalProperties": {"type": "string"}},
                                   "Currencies."), "v1"),
        "/api/observations": _get(
            "Observations as the ticker quoted them",
            "Per date and currency: the rate as quoted (string), change and direction (keeping -0), the "
            "bounds the quoted precision allows in both directions, the day's revisions and provenance. "
            + STREAMED,
            observations, _streamed(_ok({"type": "array", "items": _ref("schemas", "Observation")},
                                        "Observations.")),
            "native"),
        "/api/observations.csv": _get(
            "Observations as CSV", "Same as /api/observations, as CSV with the same columns (CRLF line "
            "ends; a text cell that a spreadsheet would run as a formula starts with an apostrophe). "
            + STREAMED,
            observations, _streamed(_ok({"type": "string"}, "CSV with a header row.", "text/csv")), "native"),
        "/openapi.json": _get("This document", "The OpenAPI 3.1 description of the API.", [],
                              _ok({"type": "object"}, "OpenAPI document."), "meta"),
    }


@cache
def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "fxticker",
            "version": "1.0.0",
            "description": "Central Asian currency rates from The Times of Central Asia's ticker. "
                           "Frankfurter-compatible (v1 and v2 shapes) plus a native endpoint with the "
                           "quotes as scraped. " + ROUNDING + " Errors are JSON {status, message}; other "
                           "methods than GET/HEAD/OPTIONS answer 405.",
        },
        "paths": {**_paths(), **quality.PATHS},
        "components": _components(),
    }


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(document())
