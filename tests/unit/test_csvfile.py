"""The one CSV writer: CRLF, guarded cells, chunks per batch."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fxticker.export import csvfile


def test_chunks_are_crlf_guarded_and_one_per_batch() -> None:
    chunks = list(csvfile.chunks(["a", "b"], [[["=1+2", "-0.5"]], [["x,y", "@me"]]], bom=True))
    assert chunks == ["\ufeffa,b\r\n'=1+2,-0.5\r\n", "\"x,y\",'@me\r\n"]
    assert list(csvfile.chunks(["a"], [])) == ["a\r\n"]
    # Only the columns named as text are looked at: a query formats the others.
    assert list(csvfile.chunks(["a", "b"], [[["=x", "=y"]]], text_columns=[1])) == ["a,b\r\n=x,'=y\r\n"]


@pytest.mark.parametrize("text", ["=cmd|' /C calc'!A0", "+1", "-x", "@x", "\tx", "\rx"])
def test_a_formula_is_shown_as_text(text: str) -> None:
    assert csvfile.guard(text) == "'" + text


@pytest.mark.parametrize("text", ["-0.51", "-0", "12", "a=b", "plain", ""])
def test_numbers_and_plain_text_stay_as_they_are(text: str) -> None:
    assert csvfile.guard(text) == text


@pytest.mark.parametrize(
    ("value", "expected"),
    [("=1+2", "'=1+2"), ("+x", "'+x"), ("-x", "'-x"), ("@x", "'@x"), ("\tx", "'\tx"), ("\rx", "'\rx"),
     ("-0.51", "-0.51"), ("-0", "-0"), ("plain", "plain"), ("a=b", "a=b"), (Decimal("0.00008"), "0.00008"),
     (Decimal("1E-7"), "0.0000001"), (None, "")],
)
def test_cell(value: object, expected: str) -> None:
    assert csvfile.cell(value) == expected
