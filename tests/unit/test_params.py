"""Property tests (hypothesis) for the APIs' parameter parsing and the exact cross-rate arithmetic."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fxticker.rates.pricing import cross, json_number, priced, priced_numbers
from fxticker.web import params
from fxticker.web.errors import BadInput

TODAY = dt.date(2025, 12, 19)


@given(st.dates(max_value=TODAY))
def test_every_past_date_parses_back(day: dt.date) -> None:
    assert params.parse_date("date", day.isoformat(), TODAY) == day


@given(st.dates(min_value=TODAY + dt.timedelta(days=1)))
def test_future_dates_are_rejected(day: dt.date) -> None:
    with pytest.raises(BadInput, match="'date' is in the future"):
        params.parse_date("date", day.isoformat(), TODAY)


@given(st.text(max_size=20))
def test_any_text_is_a_canonical_date_or_a_422(raw: str) -> None:
    try:
        value = params.parse_date("from", raw, TODAY)
    except BadInput as exc:
        assert exc.status == 422 and exc.message.startswith("'from' ")
    else:
        assert value.isoformat() == raw  # only the one canonical spelling is accepted


@given(st.text(max_size=30))
def test_any_text_is_currency_codes_or_a_422(raw: str) -> None:
    try:
        codes = params.parse_codes("quotes", raw)
    except BadInput as exc:
        assert exc.message == "'quotes' takes three-letter codes such as KZT, separated by commas"
    else:
        assert codes and all(len(c) == 3 and c.isascii() and c.isupper() for c in codes)
        assert len(set(codes)) == len(codes)


@given(st.lists(st.sampled_from(["kzt", "UZS", "Tjs", "USD"]), min_size=1))
def test_codes_are_upper_cased_and_deduplicated_in_order(parts: list[str]) -> None:
    expected = list(dict.fromkeys(p.upper() for p in parts))
    assert params.parse_codes("quotes", ",".join(parts)) == expected


@given(st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("1e12"), places=6))
def test_positive_amounts_parse_exactly(amount: Decimal) -> None:
    assert params.parse_amount(format(amount, "f")) == amount


@given(st.text(max_size=40))
def test_any_text_is_a_positive_amount_or_a_422(raw: str) -> None:
    try:
        value = params.parse_amount(raw)
    except BadInput as exc:
        assert exc.message == "'amount' must be a positive number such as 10 or 2.5"
    else:
        assert value > 0 and value.is_finite()


quote = st.decimals(min_value=Decimal("0.00001"), max_value=Decimal("99.99999"), places=5)


def band_rounded(value: Fraction) -> Decimal:
    """Frankfurter's Roundable (lib/roundable.rb) worked with integers: decimals by magnitude, ties
    half-even as printf rounds them, whole numbers half-up as Ruby's Float#round."""
    places = next((p for floor, p in ((5000, 0), (80, 2), (20, 3), (1, 4), (Fraction(1, 10000), 5))
                   if value > floor), 6)
    scaled = value * 10**places
    whole = math.floor(scaled + Fraction(1, 2)) if places == 0 else round(scaled)  # round(): half-even
    return Decimal(whole).scaleb(-places)


@given(quote, quote, st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1000000"), places=2))
@example(Decimal("0.00030"), Decimal("0.00036"), Decimal("1123.89"))
def test_rates_are_multiplied_by_the_amount_then_rounded_once_in_bands(
    base: Decimal, other: Decimal, amount: Decimal
) -> None:
    # The cross rate is kept to 28 significant digits (pricing.cross); the amount multiplies that kept
    # rate exactly, and the one rounding follows. (5/6 kept as 0.8333...3 makes 1123.89 of it 936.57499...,
    # not the tie 936.575 that the unrounded ratio would give.)
    kept = cross(base, other)
    assert priced(kept, amount) == band_rounded(Fraction(amount) * Fraction(kept))


# Amounts as the API takes them (up to 15 digits either side of the point), short ones often: those
# make exact ties with short quotes (0.5 x 0.000965), where the shortcut must give way.
amounts = st.decimals(min_value=Decimal("1e-15"), max_value=Decimal("999999999999999"), places=15) | \
    st.decimals(min_value=Decimal("0.5"), max_value=Decimal("100000"), places=1)
# A rate as the API keeps it: a cross rate (28 significant digits), a short quote, or a band's edge.
rates_kept = st.builds(cross, quote, quote) | quote | st.sampled_from(
    [Decimal(t) for t in ("5000", "80", "20", "1", "0.0001", "0.000965", "5000.5", "80.005", "0.000015")])


@settings(max_examples=2000)
@given(st.lists(rates_kept, min_size=1, max_size=8), amounts)
def test_priced_numbers_are_the_exact_prices_as_floats(values: list[Decimal], amount: Decimal) -> None:
    exact = [json_number(priced(v, amount)) for v in values]
    numbers = priced_numbers([(v, float(v)) for v in values], amount)
    assert numbers == exact
    # Above 5000, a whole number: a JSON integer, as Frankfurter's Roundable writes it.
    assert [isinstance(n, int) for n in numbers] == [amount * v > 5000 for v in values]
