"""Frankfurter v1 shapes: /v1/latest, /v1/DATE, /v1/START..END, /v1/currencies; checked against
/openapi.json by the CheckedClient."""

from __future__ import annotations

import pytest

from tests.fix_api import CheckedClient


def test_latest(days_api: CheckedClient) -> None:
    assert days_api.json("/v1/latest?symbols=KZT,UZS") == {
        "amount": 1.0, "base": "USD", "date": "2025-12-19", "rates": {"KZT": 515.46, "UZS": 12500.0}}
    everything = days_api.json("/v1/latest")
    assert sorted(everything["rates"]) == ["KGS", "KZT", "TJS", "TMT", "UZS"]


def test_amount_and_the_from_to_aliases(days_api: CheckedClient) -> None:
    # 10 KZT at 0.00194 USD each is 0.0194 USD; in UZS at 0.00008 USD: 242.5.
    assert days_api.json("/v1/latest?from=KZT&to=USD,UZS&amount=10") == {
        "amount": 10.0, "base": "KZT", "date": "2025-12-19", "rates": {"USD": 0.0194, "UZS": 242.5}}
    assert days_api.json("/v1/latest?base=KZT&symbols=USD&amount=2.5")["rates"] == {"USD": 0.00485}


def test_a_day_answers_with_the_nearest_earlier_day(days_api: CheckedClient) -> None:
    assert days_api.json("/v1/2025-12-18?symbols=KZT") == {
        "amount": 1.0, "base": "USD", "date": "2025-12-17", "rates": {"KZT": 520.83}}
    assert days_api.json("/v1/2025-12-16", 404) == {
        "status": 404, "message": "no rates on or before 2025-12-16"}


def test_ranges_list_days_with_data(days_api: CheckedClient) -> None:
    expected = {
        "amount": 1.0, "base": "USD", "start_date": "2025-12-17", "end_date": "2025-12-19",
        "rates": {"2025-12-17": {"KZT": 520.83}, "2025-12-19": {"KZT": 515.46}},
    }
    assert days_api.json("/v1/2025-12-01..2025-12-31?symbols=KZT") == expected
    assert days_api.json("/v1/2025-12-01..?symbols=KZT") == expected
    # A range starting on a day without data starts on the nearest earlier day that has some.
    assert days_api.json("/v1/2025-12-18..2025-12-18?symbols=KZT")["rates"] == {"2025-12-17": {"KZT": 520.83}}
    assert days_api.json("/v1/2025-12-10..2025-12-16", 404) == {
        "status": 404, "message": "no rates between 2025-12-10 and 2025-12-16"}


def test_currencies(days_api: CheckedClient) -> None:
    assert days_api.json("/v1/currencies") == {
        "KGS": "Kyrgyzstani Som", "KZT": "Kazakhstani Tenge", "TJS": "Tajikistani Somoni",
        "TMT": "Turkmenistani Manat", "USD": "United States Dollar", "UZS": "Uzbekistan Som"}


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/v1/latest?amount=0", "'amount' must be a positive number such as 10 or 2.5"),
        ("/v1/latest?amount=-3", "'amount' must be a positive number such as 10 or 2.5"),
        ("/v1/latest?amount=1e3", "'amount' must be a positive number such as 10 or 2.5"),
        ("/v1/latest?amount=NaN", "'amount' must be a positive number such as 10 or 2.5"),
        ("/v1/latest?base=USD&from=KZT", "give 'base' or 'from', not both"),
        ("/v1/latest?symbols=KZT&to=UZS", "give 'symbols' or 'to', not both"),
        ("/v1/latest?symbols=XYZ", "'symbols': XYZ is not an ISO 4217 currency code"),
        ("/v1/latest?from=KZT&to=KZT", "KZT to KZT is not a currency pair"),
        ("/v1/latest?places=2", "unknown parameter: 'places'"),
        ("/v1/2025-02-30", "'date' must be a date of the form YYYY-MM-DD"),
    ],
)
def test_bad_input_is_422(days_api: CheckedClient, url: str, message: str) -> None:
    assert days_api.json(url, 422) == {"status": 422, "message": message}


def test_other_names_are_not_endpoints(api: CheckedClient) -> None:
    for url in ("/v1/yesterday", "/v1/2025-12-01...2025-12-02", "/v1/latest/KZT"):
        assert api.json(url, 404) == {"status": 404, "message": "no such endpoint"}, url
    assert api.json("/v1/latest", 404) == {"status": 404, "message": "no rates are stored yet"}


def test_a_range_backwards_or_a_malformed_base_finds_nothing(days_api: CheckedClient) -> None:
    """As Frankfurter v1 answers them: 404, like a base without rates."""
    assert days_api.json("/v1/2025-12-19..2025-12-01", 404) == {
        "status": 404, "message": "'from' is after 'to': no rates between them"}
    for base in ("USD?callback=?", "XYZ", "EUR", "<b>"):
        assert days_api.client.get("/v1/latest", query_string={"base": base}).status_code == 404, base


def test_v1_caching_headers(days_api: CheckedClient) -> None:
    first = days_api.get("/v1/2025-12-01..2025-12-31")
    # Settled days: a day's lifetime, without the stale-* extensions of /v2.
    assert first.headers["Cache-Control"] == "public, max-age=86400"
    again = days_api.get("/v1/2025-12-01..2025-12-31", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
