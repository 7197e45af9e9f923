"""Parse the currency ticker out of a page: text or HTML in, a quote per currency or a TickerError out.

The parser is pure: it does no I/O and reads no clock; callers pass in "today" (in the site's time zone)
so that future dates can be refused.
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from lxml import etree
from lxml import html as lxml_html

DEFAULT_MAX_BYTES = 32 * 1024 * 1024
# The ticker began long after this; an older date line is not a date the site could have shown.
EARLIEST_DATE = dt.date(2000, 1, 1)

# A ticker item: optional bullet, then "CCC/QQQ = <rate> <change>%". Spaces may be ordinary or no-break.
_SP = r"[ \t\u00a0\u202f]"
_ITEM = re.compile(
    rf"^{_SP}*(?:[\u2022\u00b7*-]{_SP}*)?([A-Z]{{3}})/([A-Z]{{3}}){_SP}*={_SP}*(.*)$",
    re.MULTILINE,
)
_VALUE = re.compile(rf"^([^\s\u00a0\u202f]+){_SP}+([^\s\u00a0\u202f]+?)%$")
_RATE = re.compile(r"^\d+(?:\.\d+)?$")
_CHANGE = re.compile(r"^-?\d+(?:\.\d+)?$")
_DATE_LINE = re.compile(rf"^{_SP}*(\d{{1,2}}){_SP}+([A-Za-z]+)\.?{_SP}+(\d{{4}}){_SP}*$")
_MONTHS = {
    name: number
    for number, full in enumerate(
        (
            "january", "february", "march", "april", "may", "june", "july",
            "august", "september", "october", "november", "december",
        ),
        start=1,
    )
    for name in (full, full[:3], "sept" if full == "september" else full[:3])
}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_LOOKS_LIKE_HTML = re.compile(r"<\s*(?:!doctype|html|head|body|div|ul|li|span|p|script|style)\b", re.I)
_HIDDEN_TAGS = ("script", "style", "noscript", "template")


class TickerError(ValueError):
    """A page that holds no usable ticker; the message says why in words a reader can act on."""


@dataclass(frozen=True)
class Quote:
    """One currency as the ticker quoted it: USD per one unit, and the day's change in percent."""

    currency: str
    rate: Decimal
    change_pct: Decimal
    direction: str  # "up", "down" or "flat"; a quoted "-0%" is "down": a fall rounded to zero

    @property
    def rate_text(self) -> str:
        return format(self.rate, "f")

    @property
    def change_text(self) -> str:
        text = format(self.change_pct, "f")
        if self.direction == "down" and not text.startswith("-"):
            return "-" + text
        return text

    @property
    def rate_bounds(self) -> tuple[Decimal, Decimal]:
        """The interval of true rates that round to the quoted one (half a unit in the last place)."""
        exponent = self.rate.as_tuple().exponent
        assert isinstance(exponent, int)
        half = Decimal(5).scaleb(exponent - 1)
        return self.rate - half, self.rate + half


@dataclass(frozen=True)
class TickerPage:
    """The ticker of one page: its quotes, in the order shown, and the site's date line if there was one."""

    quotes: tuple[Quote, ...]
    date: dt.date | None


def decode(data: bytes, content_type: str | None = None) -> str:
    """Bytes to text: the charset the page declares (BOM, header, meta), else UTF-8, else Windows-1252."""
    declared: list[str] = []
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    if content_type:
        match = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", content_type, re.IGNORECASE)
        if match:
            declared.append(match.group(1))
    meta = _META_CHARSET.search(data[:4096])
    if meta:
        declared.append(meta.group(1).decode("ascii"))
    for charset in declared:
        try:
            codecs.lookup(charset)
        except LookupError:
            continue
        try:
            return data.decode(charset)
        except UnicodeDecodeError:
            break
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def visible_text(markup: str) -> str:
    """The text a reader sees in an HTML page, one text node per line, without scripts and styles."""
    try:
        root = lxml_html.document_fromstring(markup)
    except (etree.ParserError, ValueError) as exc:
        raise TickerError(f"the page is not readable HTML ({exc})") from None
    etree.strip_elements(root, *_HIDDEN_TAGS, etree.Comment, with_tail=False)
    return "\n".join(part.strip() for part in root.itertext() if part.strip())


def page_text(data: bytes | str, content_type: str | None = None) -> str:
    """The page as lines of visible text, whichever form it came in."""
    text = decode(data, content_type) if isinstance(data, bytes) else data
    if "\x00" in text:
        raise TickerError("the page is binary data, not text")
    is_html = (content_type is not None and "html" in content_type.lower()) or bool(
        _LOOKS_LIKE_HTML.search(text[:8192])
    )
    return visible_text(text) if is_html else text


def parse(
    data: bytes | str,
    *,
    today: dt.date,
    content_type: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> TickerPage:
    """Read the ticker of one page; raise TickerError when it has none or it cannot be trusted."""
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", errors="replace"))
    if size > max_bytes:
        raise TickerError(f"the page is {size:,} bytes, over the {max_bytes:,}-byte limit")
    text = page_text(data, content_type)
    items, end = _first_block(text)
    if not items:
        raise TickerError("no ticker found (no line of the form 'CCC/USD = <rate> <change>%')")
    quotes = _collapse(items)
    return TickerPage(quotes=quotes, date=_date_after(text, end, today))


def _first_block(text: str) -> tuple[list[tuple[str, str]], int]:
    """The first run of ticker lines (blank lines may separate them): (currency, value text) pairs."""
    items: list[tuple[str, str]] = []
    end = 0
    for match in _ITEM.finditer(text):
        if items and text[end:match.start()].strip():
            break  # other text came between: the block is over
        end = match.end()
        currency, counter, value = match.groups()
        if counter == "USD" and currency != "USD":
            items.append((currency, value.strip(" \t\u00a0\u202f")))
    return items, end


def _quote(currency: str, value: str) -> Quote:
    match = _VALUE.match(value)
    if not match:
        raise TickerError(f"{currency}/USD: cannot read {value!r} as '<rate> <change>%'")
    rate_text, change_text = match.groups()
    if rate_text.startswith("-"):
        raise TickerError(f"{currency}/USD: negative rate {rate_text}")
    if not _RATE.match(rate_text):
        raise TickerError(f"{currency}/USD: malformed rate {rate_text!r}")
    if not _CHANGE.match(change_text):
        raise TickerError(f"{currency}/USD: malformed change {change_text + '%'!r}")
    try:
        rate, change = Decimal(rate_text), Decimal(change_text)
    except InvalidOperation:
        raise TickerError(f"{currency}/USD: malformed number in {value!r}") from None
    if rate == 0:
        raise TickerError(f"{currency}/USD: zero rate {rate_text}")
    if change <= -100:
        raise TickerError(f"{currency}/USD: impossible change {change_text}% (a rate cannot fall 100%)")
    if change_text.startswith("-"):
        direction = "down"
    elif change > 0:
        direction = "up"
    else:
        direction = "flat"
    return Quote(currency, rate, change.copy_abs() if change == 0 else change, direction)


def _collapse(items: list[tuple[str, str]]) -> tuple[Quote, ...]:
    """One quote per currency from the repeated block; copies must agree, a trailing partial one too."""
    period = next(
        (i for i, (currency, _) in enumerate(items) if currency == items[0][0] and i > 0), len(items)
    )
    first = items[:period]
    if len({currency for currency, _ in first}) != len(first):
        raise TickerError("the ticker block repeats a currency within one copy")
    quotes = tuple(_quote(currency, value) for currency, value in first)
    for start in range(period, len(items), period):
        copy = items[start:start + period]
        for (want_ccy, want_value), (got_ccy, got_value) in zip(first, copy, strict=False):
            if got_ccy != want_ccy:
                raise TickerError(
                    f"the ticker's copies list currencies in different orders ({want_ccy} / {got_ccy})"
                )
            if _quote(got_ccy, got_value) != _quote(want_ccy, want_value):
                raise TickerError(
                    f"{want_ccy}/USD: the ticker's copies disagree ({want_value!r} and {got_value!r})"
                )
    return quotes


def _date_after(text: str, end: int, today: dt.date) -> dt.date | None:
    """The site's date line, which is the first non-blank line after the block, when it is one."""
    rest = text[end:end + 512].lstrip()
    line = rest.split("\n", 1)[0]
    match = _DATE_LINE.match(line)
    if not match:
        return None
    day, month_name, year = match.groups()
    month = _MONTHS.get(month_name.lower())
    if month is None:
        return None
    try:
        date = dt.date(int(year), month, int(day))
    except ValueError:
        raise TickerError(f"the date line {line.strip()!r} is not a real date") from None
    if date > today:
        raise TickerError(f"the date line {line.strip()!r} is in the future (today is {today})")
    if date < EARLIEST_DATE:
        raise TickerError(f"the date line {line.strip()!r} is before {EARLIEST_DATE}, older than any ticker")
    return date
