"""The official rate and the check as the web shows them beside a quote: one set of names and formats."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any

import psycopg
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from fxticker import vocab
from fxticker.official import check
from fxticker.official.banks import PROVIDERS


def _text(value: Decimal | None) -> str | None:
    # Strings, like the quote's own rate: exact, and no JSON reader rounds them.
    return None if value is None else vocab.decimal_text(value)


def official_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row of observation_checked or daily_checked (sql/008) as the API's official fields."""
    day = row["official_date"]
    return {
        "official_per_usd": _text(row["official_per_usd"]),
        "official_provider": row["official_provider"],
        "official_date": day.isoformat() if day is not None else None,
        "deviation_pct": _text(row["deviation_pct"]),
        "check": row["official_check"],
    }


_NULLABLE_STRING = {"type": ["string", "null"]}
# The fields' OpenAPI schema, spliced into the Observation schema of /openapi.json.
OFFICIAL_PROPERTIES: dict[str, Any] = {
    "official_per_usd": {**_NULLABLE_STRING, "description": "The official rate compared with: units of "
                         f"the currency per USD, exact (null: none within {check.WINDOW.days} days).",
                         "examples": ["478.77"]},
    "official_provider": {**_NULLABLE_STRING, "description": "Its provider (nbk, cbu, nbkr, nbt, peg)."},
    "official_date": {"type": ["string", "null"], "format": "date", "description": "The day the official "
                      f"rate is for: the quote's day, or the latest earlier one within {check.WINDOW.days} "
                      "days."},
    "deviation_pct": {**_NULLABLE_STRING, "description": "The quote's units per USD against the official "
                      "rate, in percent, signed (positive: the ticker makes the dollar dearer).",
                      "examples": ["-0.063"]},
    "check": {"enum": list(check.VERDICTS), "description": "agrees: the official rate lies inside the "
              f"quote's band widened by {check.AGREES_PCT}%; differs: within {check.DIFFERS_PCT}%; suspect: "
              f"further; no_reference: no official rate within {check.WINDOW.days} days."},
}


# A provider whose newest rate is older than the check's window is stale: quotes after it get no reference.
STALE_AFTER = check.WINDOW


def freshness(latest: Mapping[str, dt.date], last_ok: Mapping[str, dt.datetime],
              today: dt.date) -> dict[str, dict[str, Any]]:
    """Per provider for /healthz: its newest rate's day, its last successful fetch, and whether stale."""
    return {
        key: {
            "latest_rate_date": latest[key].isoformat() if key in latest else None,
            "last_fetch_success": last_ok[key].isoformat() if key in last_ok else None,
            "stale": key not in latest or today - latest[key] > STALE_AFTER,
        }
        for key in PROVIDERS
    }


def metric_families(fetches: Mapping[tuple[str, str], int],
                    last_ok: Mapping[str, dt.datetime]) -> Iterator[Metric]:
    """/metrics: official fetches by provider and outcome, and each provider's last success."""
    counts = CounterMetricFamily("fxticker_official_fetches",
                                 "Official-rate fetches (a provider's part of a run), by provider and "
                                 "outcome.",
                                 labels=["provider", "status"])
    for key in PROVIDERS:
        for status in ("ok", "failed"):
            counts.add_metric([key, status], fetches.get((key, status), 0))
    yield counts
    last = GaugeMetricFamily("fxticker_official_last_success_timestamp_seconds",
                             "Unix time a provider's last successful official-rate fetch finished.",
                             labels=["provider"])
    for key in PROVIDERS:
        if key in last_ok:
            last.add_metric([key], last_ok[key].timestamp())
    yield last


# ---- the dashboard -------------------------------------------------------------------------------------

SUSPECT_ROWS = 20
_DASHBOARD_SUSPECTS = """
SELECT rate_date, currency, rate, official_per_usd, official_provider, official_date, deviation_pct
FROM observation_checked
WHERE official_check = 'suspect' AND currency = ANY(%(currencies)s)
  AND rate_date >= %(start)s AND rate_date <= %(end)s
ORDER BY rate_date DESC, currency, revision_rank
LIMIT %(limit)s
"""


def _short(value: Decimal) -> float:
    return float(f"{value:.6g}")


def chart_overlays(series: Mapping[str, Mapping[str, list[Any]]], official: Iterable[tuple[Any, ...]],
                   flagged: Iterable[tuple[Any, ...]]) -> dict[str, dict[str, Any]]:
    """Per currency: the official rate per bucket (`ox`, `oy` in units per USD) and the flagged points
    (`i` the point's index in the series, `differs` and `suspect` the days of each, `worst` the largest
    deviation in percent), for dashboard.js to draw as a second line and marks. `official` and `flagged`
    are the rows of the dashboard's queries of them, bucketed as its series."""
    found: dict[str, dict[str, Any]] = {
        c: {"ox": [], "oy": [], "i": [], "differs": [], "suspect": [], "worst": []} for c in series}
    for bucket, code, per_usd in official:
        found[code]["ox"].append(bucket.isoformat())
        found[code]["oy"].append(_short(per_usd))
    index = {c: {x: k for k, x in enumerate(s["x"])} for c, s in series.items()}
    for bucket, code, differs, suspect, worst in flagged:
        point = index[code].get(bucket.isoformat())
        if point is None:
            continue  # a day stored between the queries: it shows next time
        marks = found[code]
        marks["i"].append(point)
        marks["differs"].append(differs)
        marks["suspect"].append(suspect)
        marks["worst"].append(_short(worst))
    return found


def suspects(conn: psycopg.Connection, codes: list[str], start: dt.date,
             end: dt.date) -> list[dict[str, Any]]:
    """The latest suspect quotes of the selection, for the dashboard's table."""
    params = {"currencies": codes, "start": start, "end": end, "limit": SUSPECT_ROWS}
    return [{"date": day.isoformat(), "currency": code, "rate": vocab.decimal_text(rate),
             "official_per_usd": vocab.decimal_text(per_usd), "official_provider": provider,
             "official_date": official_day.isoformat(), "deviation_pct": vocab.decimal_text(deviation)}
            for day, code, rate, per_usd, provider, official_day, deviation
            in conn.execute(_DASHBOARD_SUSPECTS, params)]
