"""The banks' parsers on their real answers, on answers changed in one telling way, and on garbage."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fxticker.official.answers import OfficialError, WrongDate, parse, parse_nbkr_history, peg_rates
from tests.bank_answers import BANKS, HTML_ERROR


def body(name: str) -> bytes:
    return (BANKS / name).read_bytes()


def rows(key: str, data: bytes, asked: dt.date | None = None) -> list[tuple[str, str, str, str]]:
    return [(r.provider, r.rate_date.isoformat(), r.currency, format(r.per_usd, "f"))
            for r in parse(key, data, asked)]


def test_real_answers_give_the_usd_rate_of_their_day_exactly() -> None:
    assert rows("nbk", body("nbk-2026-04-01.xml")) == [("nbk", "2026-04-01", "KZT", "478.77")]
    assert rows("nbk", body("nbk-2026-04-02.xml")) == [("nbk", "2026-04-02", "KZT", "475.09")]
    assert rows("cbu", body("cbu-2026-04-01.json")) == [("cbu", "2026-04-01", "UZS", "12194.21")]
    # The trailing zero is the bank's: an exact decimal keeps it.
    assert rows("cbu", body("cbu-2026-04-02.json")) == [("cbu", "2026-04-02", "UZS", "12142.10")]
    assert rows("nbt", body("nbt-2026-05-18.xml")) == [("nbt", "2026-05-18", "TJS", "9.3450")]
    assert rows("nbt", body("nbt-2026-05-19.xml")) == [("nbt", "2026-05-19", "TJS", "9.3371")]


def test_nbkr_daily_is_windows_1251_with_a_decimal_comma() -> None:
    [rate] = parse("nbkr", body("nbkr-daily-2026-05-24.xml"))
    assert (rate.rate_date, rate.currency, rate.per_usd, rate.published) == (
        dt.date(2026, 5, 24), "KGS", Decimal("87.4500"), "87,4500")
    # Cyrillic in windows-1251, as the bank's other feeds carry it: decoded as declared, not as UTF-8.
    cyrillic = body("nbkr-daily-2026-05-24.xml").replace(
        b'Name="Daily Exchange Rates"', 'Name="Курсы валют"'.encode("cp1251"))
    assert parse("nbkr", cyrillic)[0].per_usd == Decimal("87.4500")
    with pytest.raises(OfficialError, match="not NBKR CurrencyRates XML"):
        parse("nbkr", cyrillic.replace(b"windows-1251", b"utf-8"))


def test_nbkr_history_rows_are_dated_by_the_bank() -> None:
    history = body("nbkr-history-usd-2005-06.html")
    rates = parse_nbkr_history(history, dt.date(2005, 6, 1), dt.date(2005, 6, 30))
    assert [(r.rate_date.isoformat(), str(r.per_usd)) for r in rates] == [
        ("2005-06-04", "40.9879"), ("2005-06-11", "41.0511"), ("2005-06-18", "41.0685"),
        ("2005-06-25", "40.9614")]
    with pytest.raises(OfficialError, match="answered for 2005-06-04, outside the range asked"):
        parse_nbkr_history(body("nbkr-history-usd-2005-06.html"), dt.date(2005, 6, 10), dt.date(2005, 6, 30))


def test_a_comma_is_a_decimal_mark_only_where_the_bank_writes_one() -> None:
    # For NBK a comma would be a thousands separator: refused rather than read as 478.77 or 47877.
    with pytest.raises(OfficialError, match="'478,77' is not a decimal number"):
        parse("nbk", body("nbk-2026-04-01.xml").replace(b"478.77", b"478,77"))
    with pytest.raises(OfficialError, match=r"'87\.4500' is not a decimal number"):
        parse("nbkr", body("nbkr-daily-2026-05-24.xml").replace(b"87,4500", b"87.4500"))


@pytest.mark.parametrize(("nominal", "value", "per_usd"), [
    ("1", "478.77", "478.77"), ("10", "4787.7", "478.77"), ("100", "47877", "478.77"),
    ("1000", "478770.5", "478.7705"),
])
def test_the_nominal_divides_exactly(nominal: str, value: str, per_usd: str) -> None:
    data = body("nbk-2026-04-01.xml").replace(
        b"<description>478.77</description>\n            <quant>1</quant>",
        f"<description>{value}</description>\n            <quant>{nominal}</quant>".encode())
    assert f"<description>{value}</description>\n            <quant>{nominal}</quant>".encode() in data
    [rate] = parse("nbk", data)
    assert format(rate.per_usd, "f") == per_usd
    assert (rate.published, rate.nominal) == (value, int(nominal))


@pytest.mark.parametrize("nominal", ["3", "0", "-1", "", "1e2"])
def test_an_odd_nominal_is_refused(nominal: str) -> None:
    data = body("nbt-2026-05-18.xml").replace(
        b"<CharCode>USD</CharCode>\n   <Nominal>1</Nominal>",
        f"<CharCode>USD</CharCode>\n   <Nominal>{nominal}</Nominal>".encode())
    with pytest.raises(OfficialError, match=r"USD nominal .* is not one of 1, 10, 100, 1000"):
        parse("nbt", data)


def test_an_answer_for_another_day_is_refused_by_its_date() -> None:
    # NBT answers a day it has no rates for with today's: the Date attribute gives it away.
    with pytest.raises(WrongDate, match="answered for 2026-05-19, not the day asked, 2026-05-20") as caught:
        parse("nbt", body("nbt-2026-05-19.xml"), dt.date(2026, 5, 20))
    assert caught.value.answered == dt.date(2026, 5, 19)
    with pytest.raises(WrongDate):
        parse("nbk", body("nbk-2026-04-01.xml"), dt.date(2026, 4, 2))
    with pytest.raises(WrongDate):
        parse("cbu", body("cbu-2026-04-02.json"), dt.date(2026, 4, 3))
    assert rows("cbu", body("cbu-2026-04-02.json"), dt.date(2026, 4, 2))[0][1] == "2026-04-02"




@pytest.mark.parametrize(("key", "data", "reason"), [
    ("nbk", HTML_ERROR, "not NBK rates XML"),
    ("cbu", HTML_ERROR, "not CBU JSON"),
    ("nbkr", HTML_ERROR, "not NBKR CurrencyRates XML"),
    ("nbt", HTML_ERROR, "not NBT ValCurs XML"),
    ("nbk", b'<?xml version="1.0"?><rates><item><title>USD</title><description>478.77</description>'
            b"<quant>1</quant></item></rates>", "NBK <date> '' is not a date"),
    ("nbk", body("nbk-2026-04-01.xml").replace(b"<title>USD</title>", b"<title>USX</title>"), "no USD item"),
    ("cbu", b"[]", "CBU answered with no rates at all"),
    ("cbu", b'{"error": "not found"}', "expected an array"),
    ("cbu", body("cbu-2026-04-01.json").replace(b'"12194.21"', b'"-12194.21"'), "is not a decimal number"),
    ("cbu", body("cbu-2026-04-01.json").replace(b'"Date":"01.04.2026"', b'"Date":"31.02.2026"'),
     "'31.02.2026' is not a date"),
    ("nbt", body("nbt-2026-05-18.xml").replace(b"<Value>9.3450</Value>", b"<Value>0</Value>"),
     "'0' is not positive"),
    ("nbkr", b"", "not NBKR CurrencyRates XML"),
])
def test_a_200_that_is_not_a_valid_answer_is_an_error(key: str, data: bytes, reason: str) -> None:
    with pytest.raises(OfficialError, match=reason):
        parse(key, data)


def test_xml_entities_are_not_expanded() -> None:
    evil = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<ValCurs Date="2026-05-18"><Valute><CharCode>USD</CharCode><Nominal>1</Nominal>'
            b"<Value>&x;</Value></Valute></ValCurs>")
    with pytest.raises(OfficialError, match="is not a decimal number"):
        parse("nbt", evil)


def test_the_peg_holds_every_day_since_2015_and_needs_no_answer() -> None:
    rates = peg_rates("peg", dt.date(2014, 12, 30), dt.date(2015, 1, 3))
    assert [(r.rate_date.isoformat(), r.currency, str(r.per_usd)) for r in rates] == [
        ("2015-01-01", "TMT", "3.5"), ("2015-01-02", "TMT", "3.5"), ("2015-01-03", "TMT", "3.5")]
    with pytest.raises(OfficialError, match="fixed rate"):
        parse("peg", b"<xml/>")


@settings(max_examples=300, deadline=None)
@given(key=st.sampled_from(["nbk", "cbu", "nbkr", "nbt"]),
       data=st.one_of(st.binary(max_size=400),
                      st.sampled_from(sorted(BANKS.glob("*.*"))).flatmap(
                          lambda p: st.integers(0, len(p.read_bytes())).map(lambda n: p.read_bytes()[:n]))))
def test_any_bytes_give_rates_or_an_official_error(key: str, data: bytes) -> None:
    try:
        rates = parse(key, data)
    except OfficialError:
        return
    assert all(r.per_usd > 0 and r.provider == key for r in rates)
