"""Frankfurter's behaviour, point by point, against a live `fxticker serve` on the bundled sample data.

Each test names the source in lineofflight/frankfurter it follows (a repository path). Expected values
are worked here from the sample pages themselves (read with this file's own regex, computed with
Fraction and this file's own copy of the rounding bands), never taken from fxticker's code.

The sample: 2025-08-01 to 2025-12-10 with gaps (15-21 September, 29-30 November, 4, 6-7 and 9
December); 28 November has no TMT quote; some days are revised later the same day (a 'b' page).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any

import exrate
import httpx
import pytest

from tests.fix_serve import free_port, stop_gracefully, wait_until_serving

FIRST, LAST = "2025-08-01", "2025-12-10"


def sample_quotes() -> dict[str, dict[str, Fraction]]:
    """USD per unit by day and currency, from each day's last page (b after a)."""
    days: dict[str, dict[str, Fraction]] = {}
    folder = Path(str(resources.files("fxticker") / "samples"))
    for path in sorted(folder.glob("sample-*.txt")):
        day = re.fullmatch(r"sample-([0-9-]{10})[a-z]\.txt", path.name)
        assert day is not None
        quoted = re.findall(r"([A-Z]{3})/USD = ([0-9.]+)", path.read_text())
        days[day[1]] = {code: Fraction(value) for code, value in quoted}
    return days


QUOTES = sample_quotes()


def band(value: Fraction) -> float:
    """lib/roundable.rb: decimals by magnitude (ties half-even, as printf; whole numbers half-up)."""
    places = next((p for floor, p in ((5000, 0), (80, 2), (20, 3), (1, 4), (Fraction(1, 10000), 5))
                   if value > floor), 6)
    scaled = value * 10**places
    whole = math.floor(scaled + Fraction(1, 2)) if places == 0 else round(scaled)
    return float(Fraction(whole, 10**places))


def usd(day: str, code: str) -> Fraction:
    return Fraction(1) if code == "USD" else QUOTES[day][code]


class Live:
    def __init__(self, base: str) -> None:
        self.base = base

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.base + path, timeout=10, **kwargs)

    def json(self, path: str, status: int = 200) -> Any:
        response = self.get(path)
        assert response.status_code == status, (path, response.status_code, response.text[:300])
        return response.json()


@pytest.fixture(scope="module")
def live(module_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """`fxticker sample` into a fresh database, then `fxticker serve` on 127.0.0.1 (one worker)."""
    url = module_db_url
    directory = tmp_path_factory.mktemp("contract")
    env = {**os.environ, "DATABASE_URL": url, "FXTICKER_DATA_DIR": str(directory / "unused-embedded")}
    env.pop("DATABASE_READ_URL", None)
    loaded = subprocess.run([sys.executable, "-m", "fxticker", "sample"], env=env, capture_output=True,
                            text=True, timeout=120)
    assert loaded.returncode == 0, loaded.stderr
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "fxticker", "serve", "--port", str(port), "--workers", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(base, process, lambda: process.communicate()[1][-2000:])
    try:
        yield Live(base)
    finally:
        stop_gracefully(process)


def row(day: str, base: str, quote: str, rate: float) -> dict[str, Any]:
    return {"date": day, "base": base, "quote": quote, "rate": rate}


# --- Dates ------------------------------------------------------------------------------------------


def test_a_series_starts_on_the_nearest_earlier_day_with_data(live: Live) -> None:
    """lib/rate_scopes.rb (between: the nearest date <= the interval's start), for v1 and v2 ranges."""
    kzt = {day: band(1 / usd(day, "KZT")) for day in ("2025-11-28", "2025-12-01")}
    assert live.json("/v1/2025-11-29..2025-12-01?symbols=KZT") == {
        "amount": 1.0, "base": "USD", "start_date": "2025-11-28", "end_date": "2025-12-01",
        "rates": {day: {"KZT": value} for day, value in kzt.items()}}
    assert live.json("/v2/rates?from=2025-11-29&to=2025-12-01&quotes=KZT") == [
        row(day, "USD", "KZT", value) for day, value in kzt.items()]


def test_a_snapshot_carries_a_missing_currency_forward_dated_by_its_day(live: Live) -> None:
    """lib/carry_forward.rb (LOOKBACK_DAYS = 14, each key's latest row); lib/versions/v2/rate_query.rb
    (snapshots sorted by quote); /v2/rate is the same query's first row (lib/versions/v2.rb)."""
    tmt = row("2025-11-27", "USD", "TMT", band(1 / usd("2025-11-27", "TMT")))
    kzt = row("2025-11-28", "USD", "KZT", band(1 / usd("2025-11-28", "KZT")))
    assert live.json("/v2/rates?date=2025-11-28&quotes=TMT,KZT") == [kzt, tmt]
    assert live.json("/v2/rate/USD/TMT?date=2025-11-28") == tmt
    assert live.json("/v2/rate/usd/kzt?date=2025-11-28") == kzt
    # Over the seven silent days of September, each quote comes from the 14th.
    assert live.json("/v2/rates?date=2025-09-20&quotes=KZT") == [
        row("2025-09-14", "USD", "KZT", band(1 / usd("2025-09-14", "KZT")))]
    # The base carried forward too: TMT's quote of the 27th against KZT's of the 28th.
    assert live.json("/v2/rates?date=2025-11-28&base=TMT&quotes=KZT") == [
        row("2025-11-28", "TMT", "KZT", band(usd("2025-11-27", "TMT") / usd("2025-11-28", "KZT")))]
    assert live.json("/v1/2025-11-28?symbols=TMT,KZT")["rates"] == {"KZT": kzt["rate"], "TMT": tmt["rate"]}


def test_a_future_date_answers_the_latest_rates(live: Live) -> None:
    """spec/versions/v1_spec.rb ('returns latest quotes when querying future date'); a range may end in
    the future and runs to the latest data (lib/versions/v2/rate_query.rb validate_range_cost!)."""
    latest = live.json("/v1/latest")
    assert latest["date"] == LAST
    assert live.json("/v1/2999-01-01") == latest
    assert live.json("/v2/rates?date=2999-01-01") == live.json("/v2/rates")
    assert [r["date"] for r in live.json("/v2/rates?from=2025-12-08&to=2999-12-31&quotes=KZT")] == [
        "2025-12-08", "2025-12-10"]
    assert live.json("/v1/2025-12-08..2999-12-31?symbols=KZT")["end_date"] == LAST
    # A range that starts in the future has nothing (lib/rate_scopes.rb: where(false)).
    assert live.json("/v2/rates?from=2999-01-01&to=2999-12-31") == []
    assert live.get("/v1/2999-01-01..2999-12-31").status_code == 404


def test_before_the_first_data(live: Live) -> None:
    """spec/app_spec.rb ('v1 404', /v1/1000-01-01); spec/versions/v2_spec.rb ('returns empty array for
    dates before dataset'); lib/versions/v2.rb (/rate: query.to_a.first || halt(404))."""
    assert live.get("/v1/2025-07-01").status_code == 404
    assert live.get("/v1/1000-01-01").status_code == 404
    assert live.json("/v2/rates?date=2025-07-01") == []
    assert live.get("/v2/rate/USD/KZT?date=2025-07-01").status_code == 404


def frankfurter_week(day: str) -> str:
    """lib/bucket.rb#week: date(strftime('%Y-01-01', d), '+' || 7 * strftime('%W', d) || ' days')."""
    d = dt.date.fromisoformat(day)
    return (dt.date(d.year, 1, 1) + dt.timedelta(days=7 * int(d.strftime("%W")))).isoformat()


def test_group_is_one_row_per_period_from_its_average_dated_by_its_bucket(live: Live) -> None:
    """lib/bucket.rb and db/migrate/017_create_rollup_tables.rb (avg(rate) per provider, base, quote
    and bucket; a week dated 1 January + 7 x its %W number, a Wednesday in 2025; a month by its 1st);
    lib/rate_scopes.rb (between on the bucket's date: from the nearest bucket dated on or before the
    start, to the last dated on or before the end)."""

    def average_units_per_usd(days: list[str]) -> Fraction:
        return sum((1 / usd(d, "KZT") for d in days), Fraction(0)) / len(days)

    december = sorted(d for d in QUOTES if d.startswith("2025-12"))
    november = sorted(d for d in QUOTES if d.startswith("2025-11"))
    weeks: dict[str, list[str]] = {}
    for day in december:
        weeks.setdefault(frankfurter_week(day), []).append(day)
    assert list(weeks) == ["2025-12-03", "2025-12-10"]
    assert live.json("/v2/rates?from=2025-12-03&to=2025-12-10&quotes=KZT&group=week") == [
        row(bucket, "USD", "KZT", band(average_units_per_usd(days))) for bucket, days in weeks.items()]
    # A Tuesday's bucket is dated Wednesday: from the 2nd, the nearest bucket dated on or before it is
    # the previous week's (26 November); to the 9th, the week dated the 10th is left out.
    assert [r["date"] for r in live.json("/v2/rates?from=2025-12-02&to=2025-12-09&quotes=KZT&group=week")
            ] == ["2025-11-26", "2025-12-03"]
    assert live.json("/v2/rates?from=2025-11-15&to=2025-12-10&quotes=KZT&group=month") == [
        row("2025-11-01", "USD", "KZT", band(average_units_per_usd(november))),
        row("2025-12-01", "USD", "KZT", band(average_units_per_usd(december)))]
    # A cross rate divides the period's averages (lib/versions/v2/rate_query.rb derive).
    tjs = sum((1 / usd(d, "TJS") for d in december), Fraction(0)) / len(december)
    assert live.json("/v2/rates?from=2025-12-01&to=2025-12-10&base=TJS&quotes=KZT&group=month") == [
        row("2025-12-01", "TJS", "KZT", band(average_units_per_usd(december) / tjs))]


def test_a_v2_range_snaps_back_within_the_carry_forward_and_v1_however_far(live: Live) -> None:
    """lib/carry_forward.rb (LOOKBACK_DAYS = 14) for every anchor of lib/versions/v2/rate_query.rb
    (each_daily_range: the silent start's snapshot looks back 14 days); v1's lib/rate_scopes.rb
    (between: the nearest date on or before the start, however far)."""
    last = dt.date.fromisoformat(LAST)
    within, beyond = last + dt.timedelta(days=14), last + dt.timedelta(days=15)
    kzt = row(LAST, "USD", "KZT", band(1 / usd(LAST, "KZT")))
    assert live.json(f"/v2/rates?from={within}&to={within + dt.timedelta(days=5)}&quotes=KZT") == [kzt]
    assert live.json(f"/v2/rates?from={beyond}&to={beyond + dt.timedelta(days=5)}&quotes=KZT") == []
    v1 = live.json(f"/v1/{beyond}..{beyond + dt.timedelta(days=5)}?symbols=KZT")
    assert (v1["start_date"], v1["rates"]) == (LAST, {LAST: {"KZT": kzt["rate"]}})


# --- Currencies and errors --------------------------------------------------------------------------


def test_iso_codes_without_data_are_left_out_of_a_list(live: Live) -> None:
    """lib/versions/v2/rate_query.rb: validate_currencies! (Money::Currency, ISO 4217) and the quotes
    filter in emit_records; a code that is not ISO 4217 is 422 ('invalid currency')."""
    kzt = band(1 / usd(LAST, "KZT"))
    assert live.json(f"/v2/rates?date={LAST}&quotes=KZT,EUR") == [row(LAST, "USD", "KZT", kzt)]
    assert live.json("/v1/latest?symbols=EUR,KZT,GBP")["rates"] == {"KZT": kzt}
    assert live.json("/v1/latest?to=EUR,GBP", 404)["status"] == 404
    assert live.json("/v2/rates?quotes=EUR", 404)["status"] == 404
    for path in ("/v2/rates?quotes=KZT,XYZ", "/v1/latest?symbols=KZT,XYZ", "/v2/rates?base=XYZ",
                 "/v2/rate/XYZ/KZT"):
        body = live.json(path, 422)
        assert body["status"] == 422 and "XYZ is not an ISO 4217 currency code" in body["message"]


def test_a_base_or_currency_without_data_is_404(live: Live) -> None:
    """spec/versions/v2_spec.rb ('returns 404 for unknown currency', /currency/xyz); lib/versions/v2.rb
    (/rate halts 404 without a row; /currency/{code} halts 404 when not found)."""
    for path in ("/v2/rates?base=EUR", "/v1/latest?base=EUR", "/v2/rate/USD/EUR", "/v2/rate/EUR/USD",
                 "/v2/currency/XYZ", "/v2/currency/eur"):
        assert live.json(path, 404)["status"] == 404, path


def test_the_base_among_the_quotes_is_an_identity_row(live: Live) -> None:
    """CHANGELOG.md (Unreleased, #538) and lib/public/v2/openapi.json: an identity record, rate 1,
    subject to the quotes filter; spec/versions/v2_spec.rb ('returns the identity rate for a
    same-currency pair'). v1 leaves the base out (lib/versions/v1/quote/base.rb, rebase_rates) and
    symbols=base alone is 422 (lib/versions/v1/query.rb, 'bad currency pair')."""
    kzt = band(1 / usd(LAST, "KZT"))
    assert live.json(f"/v2/rates?date={LAST}&quotes=USD,KZT") == [
        row(LAST, "USD", "KZT", kzt), row(LAST, "USD", "USD", 1.0)]
    assert row(LAST, "USD", "USD", 1.0) in live.json("/v2/rates")
    assert live.json("/v2/rate/USD/USD") == row(LAST, "USD", "USD", 1.0)
    assert live.json("/v2/rate/kzt/KZT") == row(LAST, "KZT", "KZT", 1.0)
    assert live.json("/v1/latest?symbols=USD,KZT")["rates"] == {"KZT": kzt}
    assert live.json("/v1/latest?base=KZT&symbols=KZT", 422)["status"] == 422


def test_v1_current_is_latest(live: Live) -> None:
    """lib/versions/v1.rb: r.is(/latest|current/)."""
    assert live.json("/v1/current?base=KZT&amount=10") == live.json("/v1/latest?base=KZT&amount=10")


# --- Shapes -----------------------------------------------------------------------------------------

CURRENCY_FIELDS = {"iso_code", "iso_numeric", "name", "symbol", "start_date", "end_date"}


def test_currencies_sorted_with_iso_numeric_and_dates(live: Live) -> None:
    """lib/public/v2/openapi.json (Currency) and spec/versions/v2_spec.rb ('returns currencies':
    iso_numeric '840', name, symbol '$')."""
    currencies = live.json("/v2/currencies")
    assert [c["iso_code"] for c in currencies] == ["KGS", "KZT", "TJS", "TMT", "USD", "UZS"]
    assert all(set(c) == CURRENCY_FIELDS for c in currencies)
    by_code = {c["iso_code"]: c for c in currencies}
    assert by_code["USD"] == {"iso_code": "USD", "iso_numeric": "840", "name": "United States Dollar",
                              "symbol": "$", "start_date": FIRST, "end_date": LAST}
    assert (by_code["KZT"]["iso_numeric"], by_code["KZT"]["start_date"]) == ("398", FIRST)
    detail = live.json("/v2/currency/kzt")
    assert detail == {**by_code["KZT"], "providers": ["TIMESCA"]}


def test_providers_in_frankfurters_current_shape(live: Live) -> None:
    """lib/versions/v2.rb (providers: key, name, country_code, rate_type, pivot_currency, data_url,
    terms_url, start_date, end_date, publish_cadence, publishes_missed, currencies)."""
    (provider,) = live.json("/v2/providers")
    assert set(provider) == {"key", "name", "country_code", "rate_type", "pivot_currency", "data_url",
                             "terms_url", "start_date", "end_date", "publish_cadence", "publishes_missed",
                             "currencies"}
    assert provider["key"] == "TIMESCA" and provider["pivot_currency"] == "USD"
    assert (provider["start_date"], provider["end_date"]) == (FIRST, LAST)
    assert provider["currencies"] == ["KGS", "KZT", "TJS", "TMT", "USD", "UZS"]
    today = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=14))).date()
    assert provider["publishes_missed"] == (today - dt.date(2025, 12, 10)).days - 1


def test_providers_and_expand_are_accepted(live: Live) -> None:
    """spec/versions/v2_spec.rb ('filters by provider', 'expands providers when requested', 'omits
    providers on the identity rate when expanded')."""
    plain = live.json(f"/v2/rates?date={LAST}")
    assert live.json(f"/v2/rates?date={LAST}&providers=timesca") == plain
    expanded = live.json(f"/v2/rates?date={LAST}&expand=providers")
    for before, after in zip(plain, expanded, strict=True):
        if before["quote"] == before["base"]:
            assert after == before
        else:
            assert after == {**before, "providers": [{"key": "TIMESCA", "date": before["date"],
                                                      "rate": before["rate"]}]}
    assert live.json("/v2/rate/USD/KZT?providers=TIMESCA") == live.json("/v2/rate/USD/KZT")


def test_ndjson_streams_one_row_per_line(live: Live) -> None:
    """lib/versions/v2.rb (ndjson?: Accept includes application/x-ndjson; Vary: Accept); spec/versions/
    v2_spec.rb ('sets Vary header on NDJSON responses', 'prefers CSV extension over NDJSON accept')."""
    path = "/v2/rates?from=2025-11-20&to=2025-12-10&quotes=KZT,TMT"
    rows = live.json(path)
    ndjson = live.get(path, headers={"Accept": "application/x-ndjson"})
    assert ndjson.headers["Content-Type"] == "application/x-ndjson"
    assert "Accept" in ndjson.headers["Vary"]
    assert [json.loads(line) for line in ndjson.text.splitlines()] == rows
    assert ndjson.text.endswith("\n") and len(ndjson.text.splitlines()) == len(rows) > 1
    assert live.get(path).headers["Content-Type"].startswith("application/json")  # not the cached NDJSON
    csv = live.get(path.replace("/rates?", "/rates.csv?"), headers={"Accept": "application/x-ndjson"})
    assert csv.headers["Content-Type"].startswith("text/csv")


def test_rounding_bands_after_the_amount(live: Live) -> None:
    """lib/roundable.rb; lib/versions/v1/quote/base.rb (round(amount * rate / divisor))."""
    per_unit = usd(LAST, "UZS") / usd(LAST, "KZT")
    one = live.json("/v1/latest?base=UZS&symbols=KZT")["rates"]["KZT"]
    thousand = live.json("/v1/latest?base=UZS&symbols=KZT&amount=1000")["rates"]["KZT"]
    assert (one, thousand) == (band(per_unit), band(1000 * per_unit))
    assert thousand != round(1000 * one, 6)  # the amount keeps digits the unit rate rounded away
    latest = {r["quote"]: r["rate"] for r in live.json("/v2/rates?base=TJS")}
    assert latest == {q: band(usd(LAST, "TJS") / usd(LAST, q)) for q in ("KGS", "KZT", "TJS", "TMT", "USD",
                                                                         "UZS")}


# --- HTTP -------------------------------------------------------------------------------------------


def test_cors_preflight_allows_the_requested_headers(live: Live) -> None:
    """lib/app.rb (Rack::Cors, headers: :any); spec/app_spec.rb ('responds to preflight requests')."""
    response = httpx.options(live.base + "/v2/rates", timeout=10, headers={
        "Origin": "https://example.org", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "Content-Type, X-Requested-With"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Access-Control-Allow-Headers"] == "Content-Type, X-Requested-With"
    assert "GET" in response.headers["Access-Control-Allow-Methods"]


def test_every_error_answer_is_no_store(live: Live) -> None:
    """lib/no_store_on_error.rb; spec/app_spec.rb ('error responses are not cached')."""
    for path, status in (("/nonexistent", 404), ("/v1/1000-01-01", 404), ("/v2/rates?date=not-a-date", 422),
                         ("/v2/currency/xyz", 404), ("/v2/currencies.csv", 406), ("/static/none.js", 404)):
        response = live.get(path)
        assert response.status_code == status, path
        assert response.headers["Cache-Control"] == "no-store", path


# --- What a Frankfurter client could still tell apart -----------------------------------------------

# Money::Currency's names, which Frankfurter answers (lib/currency_names.rb).
FRANKFURTER_NAMES = {"KGS": "Kyrgyzstani Som", "KZT": "Kazakhstani Tenge", "TJS": "Tajikistani Somoni",
                     "TMT": "Turkmenistani Manat", "USD": "United States Dollar", "UZS": "Uzbekistan Som"}


def test_currency_names_are_frankfurters(live: Live) -> None:
    """lib/currency_names.rb (Money::Currency.find(code).name) for /v1/currencies and /v2/currencies."""
    assert live.json("/v1/currencies") == FRANKFURTER_NAMES
    assert {c["iso_code"]: c["name"] for c in live.json("/v2/currencies")} == FRANKFURTER_NAMES


def test_rates_above_5000_are_json_integers(live: Live) -> None:
    """lib/roundable.rb (above 5000: value.round, an Integer; below it a Float)."""
    uzs = band(1 / usd(LAST, "UZS"))
    assert uzs > 5000
    latest = json.loads(live.get("/v1/latest?symbols=UZS,KZT").text)["rates"]
    assert (type(latest["UZS"]), latest["UZS"], type(latest["KZT"])) == (int, int(uzs), float)
    series = json.loads(live.get(f"/v1/2025-12-08..{LAST}?symbols=UZS").text)["rates"]
    assert {type(day["UZS"]) for day in series.values()} == {int}
    [v2] = json.loads(live.get("/v2/rates?quotes=UZS").text)
    assert (type(v2["rate"]), v2["rate"]) == (int, int(uzs))
    assert live.get("/v2/rates.csv?quotes=UZS").text.splitlines()[1] == f"{LAST},USD,UZS,{int(uzs)}"
    assert type(json.loads(live.get("/v2/rate/USD/UZS").text)["rate"]) is int


def test_v1_json_names_its_charset(live: Live) -> None:
    """lib/versions/v1.rb (its json plugin's content type, application/json; charset=utf-8)."""
    for path in ("/v1/latest", f"/v1/2025-12-01..{LAST}", "/v1/currencies", "/v1/1000-01-01"):
        assert live.get(path).headers["Content-Type"] == "application/json; charset=utf-8", path


def test_a_range_from_a_later_day_to_an_earlier_one_has_no_rates(live: Live) -> None:
    """lib/rate_scopes.rb (between: date >= the start's nearest and <= the end selects nothing): v2
    answers 200 [], v1 its 404 for no rates (lib/versions/v1.rb)."""
    assert live.json("/v2/rates?from=2025-12-05&to=2025-12-01") == []
    csv = live.get("/v2/rates.csv?from=2025-12-05&to=2025-12-01")
    assert csv.text.splitlines() == ["date,base,quote,rate"]
    assert live.json("/v1/2025-12-05..2025-12-01", 404)["status"] == 404


def test_a_group_other_than_week_or_month_is_422(live: Live) -> None:
    """lib/versions/v2/rate_query.rb (validate_group!: 'invalid group' unless week or month, any case)."""
    for group in ("day", "year", "weeks"):
        assert live.json(f"/v2/rates?from=2025-12-01&group={group}", 422)["status"] == 422, group
    assert live.json("/v2/rates?from=2025-12-01&quotes=KZT&group=Week") == live.json(
        "/v2/rates?from=2025-12-01&quotes=KZT&group=week")


def test_csv_of_an_endpoint_without_csv_is_406(live: Live) -> None:
    """lib/versions/v2.rb (a .csv extension names a representation only /rates offers: 406)."""
    for path in ("/v2/currencies.csv", "/v2/providers.csv", "/v2/currency/KZT.csv", "/v2/rate/USD/KZT.csv"):
        response = live.get(path)
        assert (response.status_code, response.headers["Cache-Control"]) == (406, "no-store"), path
    assert live.get("/v2/nothing.csv").status_code == 404


def test_a_malformed_base_is_v1s_404_like_an_unknown_one(live: Live) -> None:
    """lib/versions/v1.rb and lib/versions/v1/query.rb (a base without rates, malformed or not, is 404)."""
    for base in ("USD?callback=?", "US", "EUR"):
        assert live.get("/v1/latest", params={"base": base}).status_code == 404, base


def directives(live: Live, path: str) -> list[str]:
    response = live.get(path)
    assert response.status_code == 200, path
    return str(response.headers["Cache-Control"]).split(", ")


def test_cache_control_says_how_long_an_answer_holds(live: Live) -> None:
    """lib/versions/v2.rb and lib/versions/v1.rb (response.cache_control: public with a max-age; a v2
    answer about fixed dates a day, with stale-while-revalidate and stale-if-error; an answer relative
    to today until the data can change, stale-if-error only); lib/no_store_on_error.rb."""
    settled = ["public", "max-age=86400", "stale-while-revalidate=86400", "stale-if-error=86400"]
    for path in ("/v2/rates?date=2025-12-01", f"/v2/rates?from=2025-12-01&to={LAST}&quotes=KZT",
                 "/v2/rate/USD/KZT?date=2025-12-01", "/v2/rates.csv?date=2025-12-01"):
        assert directives(live, path) == settled, path
    assert directives(live, "/v1/2025-12-01") == directives(live, f"/v1/2025-12-01..{LAST}") == [
        "public", "max-age=86400"]
    # Relative to today: until the next scheduled scrape, which this server has none of (0 s).
    for path in ("/v2/rates", "/v2/rates?from=2025-12-01&quotes=KZT", "/v2/rates?date=2999-01-01",
                 "/v2/currencies", "/v2/providers", "/v1/latest", "/v1/2025-12-01..", "/v1/currencies"):
        assert directives(live, path) == ["public", "max-age=0", "stale-if-error=86400"], path


# --- What was right already -------------------------------------------------------------------------


def test_etag_304_cors_and_error_bodies(live: Live) -> None:
    """spec/versions/v2_spec.rb ('returns an ETag'); spec/app_spec.rb ('allows cross-origin requests')."""
    first = live.get("/v2/rates?quotes=KZT")
    assert first.headers["Access-Control-Allow-Origin"] == "*"
    again = live.get("/v2/rates?quotes=KZT", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert live.json("/v2/rates?date=2025-12-32", 422) == {
        "status": 422, "message": "'date' must be a date of the form YYYY-MM-DD"}


def test_reciprocal_rates_multiply_to_one(live: Live) -> None:
    """spec/reciprocal_consistency_spec.rb: rate(USD,X) * rate(X,USD) rounds to 1 at four decimals (its
    pairs are USD's; the bands leave a cross such as KGS/TMT, 0.04015, too few digits for it)."""
    forward = {r["quote"]: r["rate"] for r in live.json("/v2/rates")}
    for quote in ("KGS", "KZT", "TJS", "TMT", "USD", "UZS"):
        backward = {r["quote"]: r["rate"] for r in live.json(f"/v2/rates?base={quote}")}["USD"]
        assert round(forward[quote] * backward, 4) == 1.0, quote
        assert live.json(f"/v2/rate/{quote}/USD")["rate"] == backward


def test_csv_equals_json(live: Live) -> None:
    """lib/versions/v2.rb (to_csv: the same records, columns date, base, quote, rate)."""
    query = "from=2025-11-25&to=2025-12-05&base=KZT&quotes=TMT,USD,KZT"
    rows = live.json(f"/v2/rates?{query}")
    lines = live.get(f"/v2/rates.csv?{query}").text.splitlines()
    assert lines[0] == "date,base,quote,rate"
    columns = ["date", "base", "quote", "rate"]
    parsed = [dict(zip(columns, line.split(","), strict=True)) for line in lines[1:]]
    assert [{**p, "rate": float(p["rate"])} for p in parsed] == rows


# --- A real Frankfurter client ----------------------------------------------------------------------


def run_exrate(live: Live, *argv: str) -> Any:
    """exrate (PyPI: a v2 client; its base URL is the module's API_BASE) pointed at the live server."""
    out = io.StringIO()
    original = exrate.API_BASE
    exrate.API_BASE = live.base + "/v2"
    try:
        with contextlib.redirect_stdout(out):
            exrate.main([*argv, "--json"])
    finally:
        exrate.API_BASE = original
    return json.loads(out.getvalue())


def test_the_exrate_client_works_against_fxticker(live: Live) -> None:
    assert run_exrate(live, "rate", "usd", "kzt") == live.json("/v2/rate/USD/KZT")
    assert run_exrate(live, "rates", "--base", "KZT", "--from", "2025-12-01", "--to", "2025-12-10",
                      "--group", "week") == live.json("/v2/rates?base=KZT&from=2025-12-01&to=2025-12-10"
                                                      "&group=week")
    converted = run_exrate(live, "convert", "100", "USD", "UZS")
    assert converted["rate"] == band(1 / usd(LAST, "UZS")) and converted["result"] == 100 * converted["rate"]
    assert [c["iso_code"] for c in run_exrate(live, "currencies")] == ["KGS", "KZT", "TJS", "TMT", "USD",
                                                                        "UZS"]
    assert run_exrate(live, "currency", "TMT")["providers"] == ["TIMESCA"]
    assert [p["key"] for p in run_exrate(live, "providers")] == ["TIMESCA"]
    # Its error path: the API's message on stderr and exit 1 for a code that is not ISO 4217.
    with pytest.raises(SystemExit) as exited, contextlib.redirect_stderr(io.StringIO()) as err:
        run_exrate(live, "rate", "USD", "XYZ")
    assert exited.value.code == 1 and "XYZ is not an ISO 4217 currency code" in err.getvalue()
