"""The product's vocabulary in Python: bounds, signs, dates and quoting, one answer per rule."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given

from fxticker import vocab
from fxticker.inputs import shown
from tests.strategies import RATES


@given(RATES)
def test_bounds_contain_every_rate_that_rounds_to_the_quote(rate: Decimal) -> None:
    b = vocab.bounds(rate)
    assert b.usd_per_unit_low < rate < b.usd_per_unit_high
    assert b.units_per_usd_low <= 1 / b.usd_per_unit_high
    assert b.units_per_usd_high >= 1 / b.usd_per_unit_low
    assert b.units_per_usd_low <= vocab.units_per_usd(rate) <= b.units_per_usd_high


def test_bounds_of_a_one_digit_quote() -> None:
    assert vocab.bounds(Decimal("0.00008")).texts() == ("0.000075", "0.000085", "11764.705", "13333.334")
    assert vocab.decimal_text(vocab.units_per_usd(Decimal("0.04096"))) == "24.414063"


@pytest.mark.parametrize(
    ("text", "change", "direction", "shown"),
    [("-0", "0", "down", "-0"), ("-0.00", "0.00", "down", "-0.00"), ("0", "0", "flat", "0"),
     ("0.52", "0.52", "up", "0.52"), ("-0.14", "-0.14", "down", "-0.14")],
)
def test_a_quoted_minus_zero_is_a_fall_rounded_to_zero(text: str, change: str, direction: str,
                                                       shown: str) -> None:
    value, found = vocab.read_change(text)
    assert (vocab.decimal_text(value), found) == (change, direction)
    assert vocab.change_text(value, found) == shown


@pytest.mark.parametrize("text", ["20251201", "2025-W49-1", "2025-12-1", " 2025-12-01", "2025-12-01\n",
                                  "２０２５-12-01", "2025-12-01T00:00", ""])
def test_only_yyyy_mm_dd_is_a_date(text: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        vocab.parse_date(text)


def test_a_date_parses() -> None:
    assert vocab.parse_date("2025-12-01") == dt.date(2025, 12, 1)
    with pytest.raises(ValueError, match="not a real date"):
        vocab.parse_date("2025-02-30")


def test_input_is_quoted_as_typed_when_plain_and_escaped_otherwise() -> None:
    assert shown("2025-12-01") == "'2025-12-01'"
    for hostile, escaped in (("<script>", r"'\x3cscript\x3e'"), ("KZT\u202e", r"'KZT\u202e'"),
                             ("a\x00b", r"'a\x00b'"), ("a\nb", r"'a\x0ab'"), ("'", r"'\x27'"),
                             ("\x1b[31m", r"'\x1b\x5b31m'")):
        assert shown(hostile) == escaped
    assert shown("x" * 41) == "'" + "x" * 40 + "'..."


# ---- every surface gives the same answer --------------------------------------------------------------
