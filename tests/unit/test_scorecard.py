"""The scorecard's arithmetic on DataFrames, without a database: the definitions, edge by edge."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest

from fxticker import vocab
from fxticker.official import scorecard
from tests import scorecard_data as known


def frames(quotes: list[tuple[str, dt.date, Decimal]],
           official: list[tuple[str, dt.date, Decimal]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The frames scorecard.read() gives, the check's columns worked out by scorecard_data's rules."""
    rates = {(code, when): per_usd for code, when, per_usd in official}
    rows = []
    for code, when, rate in quotes:
        low, high = known.band(rate)
        ref = rates.get((code, when))
        rows.append({"currency": code, "day": scorecard.day_number(when), "rate": float(rate),
                     "rate_low": float(low), "rate_high": float(high),
                     "per_usd": float(ref) if ref is not None else float("nan"),
                     "deviation_pct": float(known.deviation(rate, ref)) if ref is not None else float("nan"),
                     "check": known.verdict(rate, ref), "last_seen": None})
    quoted = pd.DataFrame(rows, columns=list(scorecard.QUOTED))
    off = pd.DataFrame([{"currency": c, "day": scorecard.day_number(w), "per_usd": float(r)}
                        for c, w, r in official], columns=list(scorecard.OFFICIAL))
    return quoted, off


def scenario() -> tuple[pd.DataFrame, pd.DataFrame]:
    return frames(known.quotes(), [(c, w, r) for _, c, w, r in known.official_rows()])


def matches(card: dict[str, object], expected: dict[str, object]) -> None:
    # The median of an even count is a mean of two floats here and of two decimals there: the last
    # rounded digit may differ by one.
    assert card["median_deviation_pct"] == pytest.approx(expected["median_deviation_pct"], abs=0.0011)
    assert {**card, "median_deviation_pct": None} == {**expected, "median_deviation_pct": None}


def test_the_scenario_gives_the_answers_worked_out_from_the_definitions() -> None:
    quoted, official = scenario()
    result = scorecard.compute(quoted, official, known.CODES, known.START, known.END)
    assert [card["currency"] for card in result.cards] == list(known.CODES)
    for card in result.cards:
        matches(card, known.expected(str(card["currency"])))


def test_the_scenario_as_built() -> None:
    quoted, official = scenario()
    cards = {c["currency"]: c for c in scorecard.compute(quoted, official, known.CODES).cards}
    kzt, kgs, tjs = cards["KZT"], cards["KGS"], cards["TJS"]
    # KZT follows the bank the same day except its frozen stretch, which is the one stale run: the day
    # before the stretch shows the same rate, so the run starts there.
    assert (kzt["best_lag_days"], kzt["same_day_share"]) == (0, kzt["lag_share"])
    assert kzt["lag_share"] == (known.DAYS - len(known.FROZEN)) / known.DAYS
    assert kzt["stale_runs"] == 1
    frozen = known.FROZEN
    move = known.official("KZT", known.day(frozen[-1])) / known.official("KZT", known.day(frozen[0] - 1)) - 1
    assert kzt["longest_stale_run"] == {
        "first_date": known.day(frozen[0] - 1).isoformat(), "last_date": known.day(frozen[-1]).isoformat(),
        "quoted_days": len(frozen) + 1, "official_move_pct": round(float(move * 100), 3)}
    # KGS follows two days late; its slips are suspect and in no lag's band.
    assert (kgs["best_lag_days"], kgs["same_day_share"]) == (known.LAGS["KGS"], 0.0)
    assert kgs["lag_share"] == (known.DAYS - len(known.SLIPS)) / known.DAYS
    assert (kgs["suspect"], kgs["differs"], kgs["agrees"]) == (len(known.SLIPS), known.DAYS - 3, 0)
    assert (kgs["stale_runs"], kgs["longest_stale_run"]) == (0, None)
    assert kgs["median_deviation_pct"] < -3
    # TJS has no official rate: nulls, not zeros, for everything that needs one.
    assert tjs == {"currency": "TJS", "from": kzt["from"], "to": kzt["to"], "days_quoted": known.TJS_DAYS,
                   "agrees": 0, "differs": 0, "suspect": 0, "no_reference": known.TJS_DAYS,
                   "median_deviation_pct": None, "resolution_pct": tjs["resolution_pct"],
                   "best_lag_days": None, "lag_share": None, "same_day_share": None, "stale_runs": None,
                   "longest_stale_run": None}
    assert result_runs() == [{"currency": "KZT", **kzt["longest_stale_run"]}]


def result_runs() -> list[dict[str, object]]:
    quoted, official = scenario()
    return scorecard.compute(quoted, official, known.CODES).runs


def test_resolution_is_the_band_of_vocab_bounds_in_percent_of_its_midpoint() -> None:
    day = dt.date(2025, 1, 1)
    quoted, official = frames([("UZS", day, Decimal("0.00008"))], [])
    card = scorecard.compute(quoted, official, ["UZS"]).cards[0]
    bounds = vocab.bounds(Decimal("0.00008"))
    for low, high in ((bounds.usd_per_unit_low, bounds.usd_per_unit_high),
                      (Decimal(1) / bounds.usd_per_unit_high, Decimal(1) / bounds.usd_per_unit_low)):
        assert card["resolution_pct"] == round(float((high - low) / ((high + low) / 2) * 100), 3) == 12.5


def test_a_band_that_holds_every_lag_gives_the_same_day() -> None:
    # UZS's 0.00008 spans 11,765..13,333 per USD: a bank rate moving inside it is in every lag's band.
    days = [dt.date(2025, 1, 1) + dt.timedelta(days=n) for n in range(20)]
    official = [("UZS", d, Decimal(12000 + 10 * n)) for n, d in enumerate(days)]
    quoted, off = frames([("UZS", d, Decimal("0.00008")) for d in days[8:]], official)
    card = scorecard.compute(quoted, off, ["UZS"]).cards[0]
    assert (card["best_lag_days"], card["lag_share"], card["same_day_share"]) == (0, 1.0, 1.0)
    # The same rate for 12 days, but the bank moved by less than 1% (12,080 to 12,190): not stale.
    assert (card["stale_runs"], card["longest_stale_run"]) == (0, None)


def test_a_lag_counts_only_the_days_with_an_official_rate_of_that_day() -> None:
    days = [dt.date(2025, 1, 1) + dt.timedelta(days=n) for n in range(3)]
    # The bank starts on the first quoted day: k = 1 can be checked on two days, k = 2 on one. Its rate
    # of 500 is in the band of 0.00200 (498.75..501.25 per USD), 600 is not.
    official = [("KZT", days[0], Decimal(500)), ("KZT", days[1], Decimal(500)),
                ("KZT", days[2], Decimal(600))]
    quoted, off = frames([("KZT", d, Decimal("0.00200")) for d in days], official)
    shares = scorecard.lag_shares(quoted, off)
    assert shares.loc["KZT", [0, 1, 2]].tolist() == [pytest.approx(2 / 3), 1.0, 1.0]
    assert shares.loc["KZT", [3, 7]].isna().all()
    card = scorecard.compute(quoted, off, ["KZT"]).cards[0]
    # Ties between k = 1 and k = 2 go to the smaller.
    assert (card["best_lag_days"], card["lag_share"], card["same_day_share"]) == (1, 1.0, 0.6667)
    # Three days of one rate while the bank moved from 500 to 600: stale, 20%.
    assert card["longest_stale_run"] == {"first_date": "2025-01-01", "last_date": "2025-01-03",
                                         "quoted_days": 3, "official_move_pct": 20.0}


def test_a_run_shorter_than_three_quoted_days_is_not_stale() -> None:
    days = [dt.date(2025, 1, 1) + dt.timedelta(days=n) for n in range(4)]
    official = [("KZT", d, Decimal(500 + 100 * n)) for n, d in enumerate(days)]
    rates = ["0.00200", "0.00200", "0.00150", "0.00150"]
    quoted, off = frames([("KZT", d, Decimal(r)) for d, r in zip(days, rates, strict=True)], official)
    card = scorecard.compute(quoted, off, ["KZT"]).cards[0]
    assert (card["stale_runs"], card["longest_stale_run"]) == (0, None)


def test_a_currency_without_quotes_in_the_range_gives_nulls_and_zeros() -> None:
    quoted, official = frames([], [])
    card = scorecard.compute(quoted, official, ["KZT"], dt.date(2025, 1, 1), dt.date(2025, 1, 31)).cards[0]
    assert card == {"currency": "KZT", "from": "2025-01-01", "to": "2025-01-31", "days_quoted": 0,
                    "agrees": 0, "differs": 0, "suspect": 0, "no_reference": 0,
                    "median_deviation_pct": None, "resolution_pct": None, "best_lag_days": None,
                    "lag_share": None, "same_day_share": None, "stale_runs": None,
                    "longest_stale_run": None}


def test_csv_row_spreads_the_longest_run_over_its_columns() -> None:
    quoted, official = scenario()
    cards = {c["currency"]: c for c in scorecard.compute(quoted, official, known.CODES).cards}
    row = dict(zip(scorecard.CSV_COLUMNS, scorecard.csv_row(cards["KZT"]), strict=True))
    assert row["longest_stale_quoted_days"] == cards["KZT"]["longest_stale_run"]["quoted_days"]
    assert row["days_quoted"] == known.DAYS
    assert scorecard.csv_row(cards["KGS"])[-4:] == [None, None, None, None]
