"""The native endpoint: quotes as scraped, with precision bounds, revisions and provenance, JSON and CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from tests.fix_api import CheckedClient

FUTURE = (dt.date.today() + dt.timedelta(days=3)).isoformat()


def test_latest_revision_per_day_with_bounds_and_provenance(days_api: CheckedClient) -> None:
    body = days_api.json("/api/observations?currencies=KZT,UZS&from=2025-12-19")
    assert [(r["date"], r["currency"], r["rate"], r["change_pct"], r["direction"]) for r in body] == [
        ("2025-12-19", "KZT", "0.00194", "0.52", "up"),
        ("2025-12-19", "UZS", "0.00008", "0", "flat"),
    ]
    kzt, uzs = body
    assert (kzt["revisions"], kzt["revision"]) == (2, 1)
    assert kzt["source"].endswith("page2.txt") and kzt["first_source"].endswith("page2.txt")
    assert kzt["last_seen"] == "2025-12-19T14:00:00+00:00"
    # UZS 0.00008 is anything from 0.000075 to 0.000085 USD: 11,764.7.. to 13,333.3.. sum per USD.
    assert (uzs["usd_per_unit_low"], uzs["usd_per_unit_high"]) == ("0.000075", "0.000085")
    assert (uzs["units_per_usd_low"], uzs["units_per_usd_high"]) == ("11764.705", "13333.334")
    assert uzs["sightings"] == 2 and uzs["first_seen"] == "2025-12-19T06:00:00+00:00"


def test_currencies_is_the_parameter_and_currency_its_alias(days_api: CheckedClient) -> None:
    """`currencies=`, as on /export.csv and the dashboard; `currency=`, the earlier name, still works."""
    path = "/api/observations?{}=KZT,UZS&from=2025-12-19"
    assert days_api.json(path.format("currencies")) == days_api.json(path.format("currency"))
    assert [r["currency"] for r in days_api.json(path.format("currencies"))] == ["KZT", "UZS"]
    assert days_api.json("/api/observations?currencies=KZT&currency=UZS", 422)["message"] == (
        "give 'currencies' or its alias 'currency', not both")
    assert days_api.json("/api/observations.csv?currencies=XXX", 422)["message"].startswith(
        "'currencies': unknown currency XXX")


def test_all_revisions_keep_the_quoted_minus_zero(days_api: CheckedClient) -> None:
    body = days_api.json("/api/observations?currency=KZT&from=2025-12-19&revisions=all")
    assert [(r["rate"], r["change_pct"], r["direction"], r["revision"]) for r in body] == [
        ("0.00194", "0.52", "up", 1),
        ("0.00193", "-0", "down", 2),
    ]


def test_csv_carries_the_same_fields(days_api: CheckedClient) -> None:
    response = days_api.get("/api/observations.csv?currency=TMT")
    assert response.mimetype == "text/csv"
    table = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["date"], r["rate"], r["usd_per_unit_low"], r["usd_per_unit_high"]) for r in table] == [
        ("2025-12-17", "0.28490", "0.284895", "0.284905"),
        ("2025-12-19", "0.28490", "0.284895", "0.284905"),
    ]
    assert response.text.splitlines()[0] == (
        "date,currency,rate,change_pct,direction,usd_per_unit_low,usd_per_unit_high,units_per_usd_low,"
        "units_per_usd_high,revisions,revision,sightings,first_seen,last_seen,source,first_source,"
        "official_per_usd,official_provider,official_date,deviation_pct,check")


def test_usd_alone_has_no_observations(days_api: CheckedClient) -> None:
    assert days_api.json("/api/observations?currency=USD") == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("currency=XYZ", "'currency': unknown currency XYZ; known: USD, KGS, KZT, TJS, TMT, UZS"),
        ("currency=", "'currency' is empty; leave it out for the default"),
        ("currency=KZT%0A", "'currency' takes three-letter codes such as KZT, separated by commas"),
        (f"to={FUTURE}", "'to' is in the future"),
        ("from=20251201", "'from' must be a date of the form YYYY-MM-DD"),
        ("from=2025-12-0\u0661", "'from' must be a date of the form YYYY-MM-DD"),
        ("revisions=", "'revisions' is empty; leave it out for the default"),
        ("revisions=some", "'revisions' must be 'latest' or 'all'"),
        ("currency=KZT&currency=UZS", "'currency' is given more than once"),
    ],
)
def test_bad_input_is_422(days_api: CheckedClient, query: str, message: str) -> None:
    assert days_api.json(f"/api/observations?{query}", 422) == {"status": 422, "message": message}
    assert days_api.json(f"/api/observations.csv?{query}", 422) == {"status": 422, "message": message}


def test_empty_database(api: CheckedClient) -> None:
    assert api.json("/api/observations") == []
    assert api.json("/api/observations?currency=KZT", 404) == {
        "status": 404, "message": "no rates are stored yet"}
    assert api.get("/api/observations.csv").text.startswith("date,currency,rate,")
    assert api.get("/api/observations.csv").text.count("\n") == 1
