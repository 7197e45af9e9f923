"""Parsing the banks' answers: bytes in, official rates (units of the bank's currency per USD) or an error.

Pure: no I/O, no clock. Every answer is checked, not trusted: a 200 that is not the bank's format, a
missing date or USD rate, a nominal other than a power of ten, or a value that is not a plain decimal
raise OfficialError; an answer dated otherwise than asked raises WrongDate (NBT answers a day it lacks
with today's rates; other banks answer a holiday with the previous day's).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from lxml import etree

from fxticker.inputs import first_line, shown
from fxticker.official.banks import PEGS, PROVIDERS, Bank, provider, publishes_on


class OfficialError(ValueError):
    """An answer that is not a valid response of its provider; the message says why."""


class WrongDate(OfficialError):
    """A well-formed answer for another day than the one asked: no row for the day asked."""

    def __init__(self, message: str, answered: dt.date) -> None:
        super().__init__(message)
        self.answered = answered


@dataclass(frozen=True)
class OfficialRate:
    provider: str
    currency: str
    rate_date: dt.date  # the day the rate is for
    per_usd: Decimal  # units of currency per USD: the published value divided by the nominal, exactly
    published: str  # the value as the bank wrote it, e.g. "87,4500"
    nominal: int


# No bank publishes further ahead than tomorrow (NBKR publishes tomorrow's rate).
DAYS_AHEAD = 1
# Units of a currency per USD that no currency has had: a misread answer (a slipped decimal point, a
# nominal missed), whatever the bank wrote. The banks' rates run from about 3.5 (TMT) to about 13,000
# (UZS); a redenomination or a hyperinflation would still fall well inside.
LOWEST_PER_USD = Decimal("0.001")
HIGHEST_PER_USD = Decimal("1000000")

# Nominals the banks use for small currencies; anything else would make the division inexact or be a slip.
NOMINALS = (1, 10, 100, 1000)
_DECIMAL = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,12})?")
_COMMA_DECIMAL = re.compile(r"[0-9]{1,12}(?:,[0-9]{1,12})?")
_DMY = re.compile(r"([0-9]{2})\.([0-9]{2})\.([0-9]{4})")
_ISO = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# A row's value must come before the next row's date: a row without a value is not paired with the next.
_NBKR_ROW = re.compile(
    rb"<!--date-->\s*([^<]*?)\s*<!--date-->(?:(?!<!--date-->).)*?<!--value-->\s*([^<]*?)\s*<!--value-->",
    re.DOTALL)


def _date(text: str | None, what: str) -> dt.date:
    text = (text or "").strip()
    try:
        if match := _DMY.fullmatch(text):
            return dt.date(int(match[3]), int(match[2]), int(match[1]))
        if _ISO.fullmatch(text):
            return dt.date.fromisoformat(text)
    except ValueError:
        pass
    raise OfficialError(f"{what} {shown(text)} is not a date (DD.MM.YYYY or YYYY-MM-DD)")


def _rate(p: Bank, day: dt.date, value: str | None, nominal: str | None, *,
          comma: bool = False) -> OfficialRate:
    """comma: the bank writes a decimal comma (NBKR); elsewhere a comma would be a thousands separator."""
    published = (value or "").strip()
    if not (_COMMA_DECIMAL if comma else _DECIMAL).fullmatch(published):
        raise OfficialError(f"USD rate {shown(published)} is not a decimal number")
    amount = Decimal(published.replace(",", "."))
    if amount <= 0:
        raise OfficialError(f"USD rate {shown(published)} is not positive")
    nominal_text = (nominal or "").strip()
    if not nominal_text.isdigit() or int(nominal_text) not in NOMINALS:
        allowed = ", ".join(map(str, NOMINALS))
        raise OfficialError(f"USD nominal {shown(nominal_text, 20)} is not one of {allowed}")
    units = int(nominal_text)
    # A power of ten: shifting the exponent divides exactly and keeps every published digit.
    per_usd = amount.scaleb(-(len(str(units)) - 1))
    if not LOWEST_PER_USD <= per_usd <= HIGHEST_PER_USD:
        raise OfficialError(f"USD rate {shown(published)} per {units} is {per_usd:f} {p.currency} per USD, "
                            f"outside {LOWEST_PER_USD:f} to {HIGHEST_PER_USD:,f}: not believed")
    return OfficialRate(p.key, p.currency, day, per_usd, published, units)


def _check_day(p: Bank, answered: dt.date, asked: dt.date | None) -> None:
    if asked is not None and answered != asked:
        raise WrongDate(f"answered for {answered.isoformat()}, not the day asked, {asked.isoformat()}",
                        answered)


def _xml(body: bytes, what: str) -> etree._Element:
    # No entities, no network, no DTDs: the answer is hostile until proven otherwise.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        raise OfficialError(f"not {what} XML ({first_line(exc)[:80]})") from None
    if root is None:
        raise OfficialError(f"not {what} XML (empty)")
    return root


@dataclass(frozen=True)
class _XmlAnswer:
    """Where one bank's XML answer keeps its date and its USD element's code, value and nominal."""

    name: str  # the answer as messages call it, e.g. "NBK rates"
    root: str
    date_of: Callable[[etree._Element], str | None]
    date_what: str
    item: str
    code_of: Callable[[etree._Element], str | None]
    value: str
    nominal: str
    missing: str  # the message when no element is USD's
    comma: bool = False  # the bank writes a decimal comma (NBKR)


def _parse_xml(form: _XmlAnswer, p: Bank, body: bytes, asked: dt.date | None) -> list[OfficialRate]:
    root = _xml(body, form.name)
    if root.tag != form.root:
        raise OfficialError(f"not {form.name} XML (root element <{root.tag}>)")
    day = _date(form.date_of(root), form.date_what)
    _check_day(p, day, asked)
    for item in root.iterfind(form.item):
        if (form.code_of(item) or "").strip() == "USD":
            return [_rate(p, day, item.findtext(form.value), item.findtext(form.nominal), comma=form.comma)]
    raise OfficialError(form.missing.format(day=day.isoformat()))


_NBK = _XmlAnswer("NBK rates", "rates", lambda r: r.findtext("date"), "NBK <date>",
                  "item", lambda i: i.findtext("title"), "description", "quant",
                  "NBK rates of {day} have no USD item")
# CharCode, not the numeric ID: NBT has reused IDs across currencies.
_NBT = _XmlAnswer("NBT ValCurs", "ValCurs", lambda r: r.get("Date"), "NBT ValCurs Date",
                  "Valute", lambda i: i.findtext("CharCode"), "Value", "Nominal",
                  "NBT rates of {day} have no USD")
_NBKR_DAILY = _XmlAnswer("NBKR CurrencyRates", "CurrencyRates", lambda r: r.get("Date"),
                         "NBKR CurrencyRates Date", "Currency", lambda i: i.get("ISOCode"),
                         "Value", "Nominal", "NBKR rates of {day} have no USD", comma=True)


def parse_nbk(body: bytes, asked: dt.date | None = None) -> list[OfficialRate]:
    return _parse_xml(_NBK, PROVIDERS["nbk"], body, asked)


def parse_cbu(body: bytes, asked: dt.date | None = None) -> list[OfficialRate]:
    p = PROVIDERS["cbu"]
    try:
        data = json.loads(body)
    except RecursionError:
        raise OfficialError("not CBU JSON (nested too deeply)") from None
    except (ValueError, UnicodeDecodeError):
        raise OfficialError("not CBU JSON (does not parse as JSON)") from None
    if not isinstance(data, list):
        raise OfficialError("not CBU JSON (expected an array of rates)")
    if not data:
        raise OfficialError("CBU answered with no rates at all")
    for row in data:
        if isinstance(row, dict) and row.get("Ccy") == "USD":
            day = _date(str(row.get("Date", "")), "CBU Date")
            _check_day(p, day, asked)
            return [_rate(p, day, str(row.get("Rate", "")), str(row.get("Nominal", "")))]
    raise OfficialError("CBU rates have no USD row")


def parse_nbt(body: bytes, asked: dt.date | None = None) -> list[OfficialRate]:
    return _parse_xml(_NBT, PROVIDERS["nbt"], body, asked)


def parse_nbkr_daily(body: bytes, asked: dt.date | None = None) -> list[OfficialRate]:
    """daily.xml: windows-1251 (declared in the XML, which lxml honours) and comma decimals."""
    return _parse_xml(_NBKR_DAILY, PROVIDERS["nbkr"], body, asked)


def parse_nbkr_history(body: bytes, since: dt.date | None = None,
                       until: dt.date | None = None) -> list[OfficialRate]:
    """The USD history page: rows between comment markers, comma decimals, USD per 1."""
    p = PROVIDERS["nbkr"]
    rows = _NBKR_ROW.findall(body)
    if not rows:
        raise OfficialError("not an NBKR history page (no <!--date--> ... <!--value--> rows)")
    rates = []
    for raw_day, raw_value in rows:
        day = _date(raw_day.decode("ascii", "replace"), "NBKR history date")
        if (since is not None and day < since) or (until is not None and day > until):
            raise OfficialError(f"NBKR history answered for {day.isoformat()}, outside the range asked")
        rates.append(_rate(p, day, raw_value.decode("ascii", "replace"), "1", comma=True))
    days = [r.rate_date for r in rates]
    if len(set(days)) != len(days):
        raise OfficialError("NBKR history lists a day twice")
    return sorted(rates, key=lambda r: r.rate_date)


def parse_nbkr(body: bytes, asked: dt.date | None = None) -> list[OfficialRate]:
    """Either NBKR answer: the history page carries comment markers, daily.xml a CurrencyRates root."""
    if b"<!--date-->" in body:
        rates = parse_nbkr_history(body)
        if asked is not None:
            rates = [r for r in rates if r.rate_date == asked]
        return rates
    return parse_nbkr_daily(body, asked)


def check_dates(key: str, rates: list[OfficialRate], today: dt.date) -> None:
    """OfficialError when a rate is dated before its bank's first published day (Bank.coverage_start) or
    more than DAYS_AHEAD after `today`: an answer from nowhere, refused whole."""
    p = provider(key)
    latest = today + dt.timedelta(days=DAYS_AHEAD)
    for rate in rates:
        if rate.rate_date < p.coverage_start:
            raise OfficialError(f"dated {rate.rate_date.isoformat()}, before {p.key}'s first rate "
                                f"({p.coverage_start.isoformat()}): not believed")
        if rate.rate_date > latest:
            raise OfficialError(f"dated {rate.rate_date.isoformat()}, after {latest.isoformat()} (no bank "
                                "publishes further ahead than tomorrow): not believed")


def peg_rates(key: str, since: dt.date, until: dt.date) -> list[OfficialRate]:
    """A peg's rate for every day of [since, until] it has held."""
    p = provider(key)
    peg = PEGS[p.key]
    days = (since + dt.timedelta(days=n) for n in range((until - since).days + 1))
    return [OfficialRate(p.key, p.currency, day, peg.per_usd, str(peg.per_usd), 1)
            for day in days if day >= peg.since and publishes_on(p, day)]


PARSERS: dict[str, Callable[[bytes, dt.date | None], list[OfficialRate]]] = {
    "nbk": parse_nbk,
    "cbu": parse_cbu,
    "nbkr": parse_nbkr,
    "nbt": parse_nbt,
}


def parse(key: str, body: bytes, asked: dt.date | None = None) -> list[OfficialRate]:
    """A saved or fetched answer of provider `key`, checked; `asked`: the day it must be for."""
    p = provider(key)
    if p.key in PEGS:
        raise OfficialError(f"{p.key} is a fixed rate ({PEGS[p.key].per_usd} {p.currency} per USD since "
                            f"{PEGS[p.key].since.isoformat()}): it has no answers to parse")
    return PARSERS[p.key](body, asked)
