"""Frankfurter v2 shapes on pages ingested through the real path; every response checked against
/openapi.json by the CheckedClient."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import psycopg
import pytest

from fxticker.web import pool as web_db
from tests.fix_api import DAY2_LATE, CheckedClient, ingest_pages
from tests.fix_db import create_app_for

# 1 / USD-per-unit of DAY2_LATE, worked by hand and rounded in Frankfurter's bands (above 80: two
# decimals, above 1: four, above 5000: none), with the identity row USD/USD.
USD_ON_19TH = {"KGS": 87.41, "KZT": 515.46, "TJS": 9.1743, "TMT": 3.51, "USD": 1.0, "UZS": 12500.0}


def rows(date: str, base: str, values: dict[str, float]) -> list[dict[str, object]]:
    return [{"date": date, "base": base, "quote": q, "rate": v} for q, v in sorted(values.items())]


def test_latest_is_the_last_days_latest_revision(days_api: CheckedClient) -> None:
    assert days_api.json("/v2/rates") == rows("2025-12-19", "USD", USD_ON_19TH)


def test_a_day_without_data_answers_with_the_last_quote_before_it(
    days_api: CheckedClient
) -> None:
    assert days_api.json("/v2/rates?date=2025-12-18&quotes=KZT") == rows("2025-12-17", "USD", {"KZT": 520.83})
    assert days_api.json("/v2/rates?date=2025-12-17&quotes=kzt,TJS") == rows(
        "2025-12-17", "USD", {"KZT": 520.83, "TJS": 9.2593})
    assert days_api.json("/v2/rates?date=2025-12-16") == []


def test_a_quote_is_carried_forward_at_most_fourteen_days(api: CheckedClient, tmp_path: Path) -> None:
    four = [q for q in DAY2_LATE if q[0] != "TMT"]
    ingest_pages(tmp_path, [
        ("01 December 2025", DAY2_LATE, dt.datetime(2025, 12, 1, 6, tzinfo=dt.UTC)),
        ("20 December 2025", four, dt.datetime(2025, 12, 20, 6, tzinfo=dt.UTC)),
    ])
    assert api.json("/v2/rates?date=2025-12-15&quotes=TMT") == rows("2025-12-01", "USD", {"TMT": 3.51})
    assert api.json("/v2/rates?date=2025-12-16&quotes=TMT") == []  # 15 days: nothing to carry
    assert api.get("/v2/rate/USD/TMT?date=2025-12-16").status_code == 404
    assert api.json("/v2/rates?date=2025-12-20&quotes=TMT,KZT") == rows("2025-12-20", "USD", {"KZT": 515.46})
    assert api.get("/v1/2025-12-16").status_code == 404


def test_cross_rates_between_stored_currencies(days_api: CheckedClient) -> None:
    assert days_api.json("/v2/rates?base=KZT&quotes=UZS,USD,TMT") == [
        {"date": "2025-12-19", "base": "KZT", "quote": "TMT", "rate": 0.00681},
        {"date": "2025-12-19", "base": "KZT", "quote": "USD", "rate": 0.00194},
        {"date": "2025-12-19", "base": "KZT", "quote": "UZS", "rate": 24.25},
    ]
    assert days_api.json("/v2/rate/TMT/KZT?date=2025-12-19") == {
        "date": "2025-12-19", "base": "TMT", "quote": "KZT", "rate": 146.86}
    assert days_api.json("/v2/rate/usd/uzs") == {
        "date": "2025-12-19", "base": "USD", "quote": "UZS", "rate": 12500}


def test_series_lists_only_days_with_data_in_date_then_quote_order(
    days_api: CheckedClient
) -> None:
    expected = rows("2025-12-17", "USD", {"KZT": 520.83, "UZS": 12500.0}) + rows(
        "2025-12-19", "USD", {"KZT": 515.46, "UZS": 12500.0})
    assert days_api.json("/v2/rates?from=2025-12-01&to=2025-12-31&quotes=UZS,KZT") == expected
    assert days_api.json("/v2/rates?from=2025-12-01&quotes=UZS,KZT") == expected  # 'to' defaults to today
    # A series starting on a day without data starts on the nearest earlier day that has some.
    assert days_api.json("/v2/rates?from=2025-12-18&to=2025-12-18&quotes=KZT") == rows(
        "2025-12-17", "USD", {"KZT": 520.83})


def test_a_range_from_year_one_is_every_day_not_a_server_error(days_api: CheckedClient) -> None:
    everything = days_api.json("/v2/rates?from=2000-01-01&quotes=KZT")
    assert [r["date"] for r in everything] == ["2025-12-17", "2025-12-19"]
    assert days_api.json("/v2/rates?from=0001-01-01&quotes=KZT") == everything
    assert days_api.get("/v2/rates.csv?from=0001-01-01&quotes=KZT").status_code == 200
    assert days_api.json("/v2/rates?from=0001-01-01&to=0001-02-01") == []
    assert days_api.json("/v2/rates?from=0001-01-01&group=week&quotes=KZT")[0]["date"] == "2025-12-17"
    assert days_api.json("/v1/0001-01-01..?symbols=KZT") == days_api.json("/v1/2000-01-01..?symbols=KZT")
    assert days_api.json("/v1/0001-01-01..0001-02-01", 404)["status"] == 404
    assert days_api.json("/v2/rates?date=0001-01-01") == []


def test_group_gives_each_periods_average_dated_by_its_start(
    api: CheckedClient, sample_days: None, tmp_path: Path
) -> None:
    ingest_pages(tmp_path, [("05 January 2026", DAY2_LATE, dt.datetime(2026, 1, 5, 6, tzinfo=dt.UTC))])
    week = api.json("/v2/rates?from=2025-12-01&quotes=KZT&group=week")
    month = api.json("/v2/rates?from=2025-12-01&quotes=KZT&group=month")
    day = api.json("/v2/rates?from=2025-12-01&quotes=KZT")
    assert [r["date"] for r in day] == ["2025-12-17", "2025-12-19", "2026-01-05"]
    # 17th and 19th share the week from Monday 15th: (1/0.00192 + 1/0.00194) / 2 = 518.148..., dated as
    # Frankfurter dates week 50 of 2025 (1 January + 7 x 50 days); 5 January 2026 is in week 1 of 2026.
    assert [(r["date"], r["rate"]) for r in week] == [("2025-12-17", 518.15), ("2026-01-08", 515.46)]
    assert [(r["date"], r["rate"]) for r in month] == [("2025-12-01", 518.15), ("2026-01-01", 515.46)]


def test_csv_has_the_same_rows(days_api: CheckedClient) -> None:
    response = days_api.get("/v2/rates.csv?from=2025-12-17&to=2025-12-19&quotes=KZT,UZS")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.data == (
        b"date,base,quote,rate\r\n"
        b"2025-12-17,USD,KZT,520.83\r\n2025-12-17,USD,UZS,12500\r\n"
        b"2025-12-19,USD,KZT,515.46\r\n2025-12-19,USD,UZS,12500\r\n"
    )
    # Each rate as the JSON answer writes it.
    body = days_api.json("/v2/rates?from=2025-12-17&to=2025-12-19&quotes=KZT,UZS")
    assert [json.dumps(r["rate"]) for r in body] == [line.split(",")[3] for line in
                                                      response.text.splitlines()[1:]]


def test_currencies_and_providers(days_api: CheckedClient) -> None:
    codes = [c["iso_code"] for c in days_api.json("/v2/currencies")]
    assert codes == ["KGS", "KZT", "TJS", "TMT", "USD", "UZS"]
    assert days_api.json("/v2/currency/kzt") == {
        "iso_code": "KZT", "iso_numeric": "398", "name": "Kazakhstani Tenge", "symbol": "₸",
        "start_date": "2025-12-17", "end_date": "2025-12-19", "providers": ["TIMESCA"]}
    provider = days_api.json("/v2/providers")[0]
    assert provider["key"] == "TIMESCA" and provider["currencies"] == codes
    assert (provider["start_date"], provider["end_date"]) == ("2025-12-17", "2025-12-19")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/v2/rates?quotes=KZT,XYZ", "'quotes': XYZ is not an ISO 4217 currency code"),
        ("/v2/rates?base=K<b>", "'base' takes a three-letter currency code such as KZT"),
        ("/v2/rates?quotes=KZT,<script>",
         "'quotes' takes three-letter codes such as KZT, separated by commas"),
        ("/v2/rates?date=2025-12-32", "'date' must be a date of the form YYYY-MM-DD"),
        ("/v2/rates?date=20251219", "'date' must be a date of the form YYYY-MM-DD"),
        ("/v2/rates?date=2025-W51-5", "'date' must be a date of the form YYYY-MM-DD"),
        ("/v2/rates?date=2025-12-19&from=2025-12-01", "give either 'date' or 'from'/'to', not both"),
        ("/v2/rates?to=2025-12-01", "'to' needs 'from'"),
        ("/v2/rates?group=week", "'group' applies to a series: give 'from'"),
        ("/v2/rates?from=2025-12-01&group=year", "'group' must be 'week' or 'month'"),
        ("/v2/rates?from=2025-12-01&group=day", "'group' must be 'week' or 'month'"),
        ("/v2/rates?amount=3", "unknown parameter: 'amount'"),
        ("/v2/rates?%3Cimg%3E=1", r"unknown parameter: '\x3cimg\x3e'"),
        ("/v2/rates?base=KZT&base=UZS", "'base' is given more than once"),
        ("/v2/rates.csv?base=XYZ", "'base': XYZ is not an ISO 4217 currency code"),
        ("/v2/rate/KZT/XYZ", "'quote': XYZ is not an ISO 4217 currency code"),
        ("/v2/rate/KZT/USD?date=nope", "'date' must be a date of the form YYYY-MM-DD"),
        ("/v2/rates?providers=ECB",
         "'providers' names an unknown provider ('ECB'); known: TIMESCA, NBK, CBU, NBKR, NBT, PEG"),
        ("/v2/rates?expand=all", "'expand' takes 'providers'"),
        ("/v2/currencies?x=1", "unknown parameter: 'x'"),
    ],
)
def test_bad_input_is_422_naming_the_input(
    days_api: CheckedClient, url: str, message: str
) -> None:
    response = days_api.get(url)
    assert response.status_code == 422
    assert response.json == {"status": 422, "message": message}
    assert b"<" not in response.data


def test_no_data_at_all_is_404(api: CheckedClient) -> None:
    for url in ("/v2/rates", "/v2/rates?quotes=KZT", "/v2/rate/USD/KZT", "/v2/rates.csv"):
        response = api.get(url)
        assert response.status_code == 404, url
        assert response.json == {"status": 404, "message": "no rates are stored yet"}
    assert api.json("/v2/currencies") == []
    assert api.json("/v2/providers") == []


def test_unknown_path_and_method(api: CheckedClient) -> None:
    assert api.json("/v2/nothing", 404) == {"status": 404, "message": "no such endpoint"}
    response = api.open("POST", "/v2/rates")
    assert response.status_code == 405
    assert response.json == {"status": 405, "message": "method POST is not allowed here"}
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


@pytest.mark.slow
def test_unreachable_database_is_503() -> None:
    app = create_app_for("postgresql://x@127.0.0.1:1/none")
    try:
        api = CheckedClient(app.test_client())
        response = api.get("/v2/rates")
    finally:
        web_db.close(app)
    assert response.status_code == 503
    assert response.json == {"status": 503, "message": "the database is unavailable; try again shortly"}
    assert response.headers["Cache-Control"] == "no-store" and response.headers["ETag"]


def test_etag_cache_control_cors_and_304(days_api: CheckedClient) -> None:
    first = days_api.get("/v2/rates?quotes=KZT")
    etag = first.headers["ETag"]
    # The latest rates: until the next scheduled scrape (none was ever scheduled here: 0).
    assert first.headers["Cache-Control"] == "public, max-age=0, stale-if-error=86400"
    assert first.headers["Access-Control-Allow-Origin"] == "*"
    again = days_api.get("/v2/rates?quotes=KZT", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    other = days_api.get("/v2/rates?quotes=UZS", headers={"If-None-Match": etag})
    assert other.status_code == 200 and other.headers["ETag"] != etag
    preflight = days_api.open("OPTIONS", "/v2/rates")
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "If-None-Match" in preflight.headers["Access-Control-Allow-Headers"]
    assert days_api.client.get("/healthz").headers.get("Access-Control-Allow-Origin") is None


def test_an_answer_about_today_is_kept_until_the_next_scheduled_scrape(
        api: CheckedClient, sample_days: None, conn: psycopg.Connection) -> None:
    conn.execute("INSERT INTO scrape_run (started_at, trigger) VALUES (now() - interval '100 seconds', "
                 "'schedule')")
    conf = api.client.application.extensions["fxticker_settings"]
    # The worker asked already (for the OpenAPI document the client checks against), before the row:
    # as a worker that has not asked yet.
    api.client.application.extensions.pop("fxticker_next_scrape")
    # The next scheduled scrape starts interval after the last one's slot, which is at most the jitter
    # (at most half the interval) before its recorded start.
    earliest = conf.interval - min(conf.jitter, conf.interval / 2) - 100
    for path in ("/v2/rates", "/v1/latest", "/api/observations?currencies=KZT"):
        public, max_age, stale = api.get(path).headers["Cache-Control"].split(", ")
        assert public == "public" and stale == "stale-if-error=86400", path
        assert earliest - 10 <= int(max_age.removeprefix("max-age=")) <= earliest, path
    # About a settled day: a day, whatever the schedule.
    assert api.get("/v2/rates?date=2025-12-17").headers["Cache-Control"].startswith("public, max-age=86400,")
