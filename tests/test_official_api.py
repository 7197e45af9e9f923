"""The official rate and the check beside every quote of /api/observations (JSON and CSV)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import psycopg
from flask.testing import FlaskClient

from fxticker.official import rate_store
from fxticker.official.answers import OfficialRate
from tests.fix_api import CheckedClient

FETCHED = dt.datetime(2025, 12, 20, tzinfo=dt.UTC)


def official(db_url: str, *rates: tuple[str, str, str, str]) -> None:
    with psycopg.connect(db_url) as conn:
        rate_store.save_rates(conn, [OfficialRate(p, c, dt.date.fromisoformat(d), Decimal(v), v, 1)
                                for p, c, d, v in rates], source="test", fetched_at=FETCHED)


def test_observations_carry_the_official_rate_and_the_check(api: CheckedClient, sample_days: None,
                                                            db_url: str) -> None:
    official(db_url, ("nbk", "KZT", "2025-12-19", "516.00"), ("peg", "TMT", "2025-12-19", "3.5"),
             ("nbkr", "KGS", "2025-12-15", "87.4500"), ("nbt", "TJS", "2025-12-19", "9.17"))
    body = api.json("/api/observations?from=2025-12-17")
    fields = [(r["date"], r["currency"], r["rate"], r["official_per_usd"], r["official_provider"],
               r["official_date"], r["deviation_pct"], r["check"]) for r in body]
    assert fields == [
        # The nearest earlier official day within 7 days, said by official_date.
        ("2025-12-17", "KGS", "0.01143", "87.4500", "nbkr", "2025-12-15", "0.045", "agrees"),
        # A later official day is never used for an earlier quote.
        ("2025-12-17", "KZT", "0.00192", None, None, None, None, "no_reference"),
        ("2025-12-17", "TJS", "0.10800", None, None, None, None, "no_reference"),
        ("2025-12-17", "TMT", "0.28490", None, None, None, None, "no_reference"),
        ("2025-12-17", "UZS", "0.00008", None, None, None, None, "no_reference"),
        ("2025-12-19", "KGS", "0.01144", "87.4500", "nbkr", "2025-12-15", "-0.043", "agrees"),
        ("2025-12-19", "KZT", "0.00194", "516.00", "nbk", "2025-12-19", "-0.104", "agrees"),
        # 1/0.10900 = 9.17: the official rate agrees with the quote.
        ("2025-12-19", "TJS", "0.10900", "9.17", "nbt", "2025-12-19", "0.047", "agrees"),
        # The ticker's TMT is not 1/3.5, but within its band widened by 1%.
        ("2025-12-19", "TMT", "0.28490", "3.5", "peg", "2025-12-19", "0.286", "agrees"),
        ("2025-12-19", "UZS", "0.00008", None, None, None, None, "no_reference"),
    ]
    table = list(csv.DictReader(io.StringIO(api.get("/api/observations.csv?currency=KZT").text)))
    assert [(r["date"], r["official_per_usd"], r["official_date"], r["deviation_pct"], r["check"])
            for r in table] == [("2025-12-17", "", "", "", "no_reference"),
                                ("2025-12-19", "516.00", "2025-12-19", "-0.104", "agrees")]


def test_a_stale_or_slipped_quote_is_suspect_and_a_new_official_rate_shows_at_once(
        api: CheckedClient, sample_days: None, db_url: str) -> None:
    first = api.json("/api/observations?currency=KZT&from=2025-12-19")
    assert first[0]["check"] == "no_reference"
    # An official rate a tenth of the quote's: a per-10 slip. The cached answer must not survive it.
    official(db_url, ("nbk", "KZT", "2025-12-19", "51.60"))
    [row] = api.json("/api/observations?currency=KZT&from=2025-12-19")
    assert (row["official_per_usd"], row["check"]) == ("51.60", "suspect")
    assert Decimal(row["deviation_pct"]) > 800


def test_the_export_carries_the_official_columns(client: FlaskClient, sample_days: None, db_url: str) -> None:
    official(db_url, ("nbk", "KZT", "2025-12-19", "516.00"))
    for resolution in ("daily", "raw"):
        with client.get(f"/export.csv?currencies=KZT&resolution={resolution}&direction=per_usd") as response:
            rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
        latest = {r["date"]: r for r in rows if r.get("revision", "1") == "1"}
        assert [(d, r["official_per_usd"], r["official_provider"], r["official_date"], r["deviation_pct"],
                 r["check"]) for d, r in sorted(latest.items())] == [
            ("2025-12-17", "", "", "", "", "no_reference"),
            ("2025-12-19", "516.00", "nbk", "2025-12-19", "-0.104", "agrees")], resolution


def test_v2_providers_lists_the_ticker_and_the_banks_in_frankfurters_shape(
        api: CheckedClient, sample_days: None, db_url: str) -> None:
    official(db_url, ("nbk", "KZT", "2025-12-18", "515.00"), ("nbk", "KZT", "2025-12-19", "516.00"),
             ("peg", "TMT", "2025-12-19", "3.5"))
    listed = {p["key"]: p for p in api.json("/v2/providers")}
    # A provider without rates yet is not listed, as in Frankfurter.
    assert sorted(listed) == ["NBK", "PEG", "TIMESCA"]
    assert listed["NBK"] == {
        "key": "NBK", "name": "National Bank of Kazakhstan", "country_code": "KZ", "rate_type": "official",
        "pivot_currency": "KZT",
        "data_url": "https://nationalbank.kz/en/exchangerates/ezhednevnye-oficialnye-rynochnye-kursy-valyut",
        "terms_url": None, "start_date": "2025-12-18", "end_date": "2025-12-19", "publish_cadence": "daily",
        "publishes_missed": listed["NBK"]["publishes_missed"], "currencies": ["KZT", "USD"]}
    assert listed["PEG"]["rate_type"] == "fixed" and listed["PEG"]["currencies"] == ["TMT", "USD"]


def test_v1_reads_the_tickers_rates_alone_whatever_the_banks_and_pegs_hold(
        api: CheckedClient, sample_days: None, db_url: str) -> None:
    before = (api.json("/v1/latest"), api.json("/v1/2025-12-17.."), api.json("/v1/currencies"))
    # What the scheduler stores every day: the peg, up to today, after the ticker's last day.
    official(db_url, *(("peg", "TMT", f"2025-12-{day}", "3.5") for day in range(17, 31)),
             ("nbk", "KZT", "2025-12-18", "515.00"), ("nbk", "KZT", "2025-12-30", "516.00"))
    latest = api.json("/v1/latest")
    assert sorted(latest["rates"]) == ["KGS", "KZT", "TJS", "TMT", "UZS"] and latest["date"] == "2025-12-19"
    assert (latest, api.json("/v1/2025-12-17.."), api.json("/v1/currencies")) == before


def test_v2_rates_are_the_tickers_unless_providers_names_a_bank(api: CheckedClient, sample_days: None,
                                                                  db_url: str) -> None:
    official(db_url, ("nbk", "KZT", "2025-12-18", "515.00"), ("nbk", "KZT", "2025-12-19", "516.00"))
    before = api.json("/v2/rates?quotes=KZT&from=2025-12-17&to=2025-12-19")
    # The ticker's days only (no 18th, which only the bank has), at the ticker's rates.
    assert before == [{"date": "2025-12-17", "base": "USD", "quote": "KZT", "rate": 520.83},
                      {"date": "2025-12-19", "base": "USD", "quote": "KZT", "rate": 515.46}]
    assert api.json("/v2/rates?quotes=KZT&from=2025-12-17&to=2025-12-19&providers=nbk") == [
        {"date": "2025-12-18", "base": "USD", "quote": "KZT", "rate": 515.0},
        {"date": "2025-12-19", "base": "USD", "quote": "KZT", "rate": 516.0}]
    assert api.json("/v2/rate/USD/KZT?providers=NBK&date=2025-12-18") == {
        "date": "2025-12-18", "base": "USD", "quote": "KZT", "rate": 515.0}
    # KZT to UZS needs both currencies from one provider: NBK has no UZS.
    assert api.get("/v2/rate/KZT/UZS?providers=NBK").status_code == 404


def test_expand_providers_lists_every_providers_rate_for_the_row(api: CheckedClient, sample_days: None,
                                                                  db_url: str) -> None:
    official(db_url, ("nbk", "KZT", "2025-12-19", "516.00"))
    [kzt] = api.json("/v2/rates?quotes=KZT&expand=providers")
    assert kzt == {"date": "2025-12-19", "base": "USD", "quote": "KZT", "rate": 515.46, "providers": [
        {"key": "TIMESCA", "date": "2025-12-19", "rate": 515.46},
        {"key": "NBK", "date": "2025-12-19", "rate": 516.0, "excluded": True}]}
    series = api.json("/v2/rates?quotes=KZT&from=2025-12-17&expand=providers")
    assert [(r["date"], [p["key"] for p in r["providers"]]) for r in series] == [
        ("2025-12-17", ["TIMESCA"]), ("2025-12-19", ["TIMESCA", "NBK"])]
    one = api.json("/v2/rate/USD/KZT?providers=NBK&expand=providers")
    assert one["rate"] == 516.0 and one["providers"] == [
        {"key": "NBK", "date": "2025-12-19", "rate": 516.0},
        {"key": "TIMESCA", "date": "2025-12-19", "rate": 515.46, "excluded": True}]
    table = api.get("/v2/rates.csv?quotes=KZT&expand=providers").get_data(as_text=True)
    assert table.splitlines() == ["date,base,quote,rate,providers",
                                  "2025-12-19,USD,KZT,515.46,TIMESCA:515.46;NBK!:516.0"]
