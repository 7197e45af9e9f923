"""The official rate and the check beside every quote of /api/observations (JSON and CSV)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import psycopg
from flask.testing import FlaskClient

from fxticker.official import store
from fxticker.official.parse import OfficialRate
from tests.fix_api import CheckedClient

FETCHED = dt.datetime(2025, 12, 20, tzinfo=dt.UTC)


def official(db_url: str, *rates: tuple[str, str, str, str]) -> None:
    with psycopg.connect(db_url) as conn:
        store.save_rates(conn, [OfficialRate(p, c, dt.date.fromisoformat(d), Decimal(v), v, 1)
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
