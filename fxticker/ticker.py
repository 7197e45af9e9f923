"""Parse the currency ticker out of a page: text or HTML in, a quote per currency or a TickerError out.

The parser is pure: it does no I/O and reads no clock; callers pass in "today" (in the site's time zone)
so that future dates can be refused.
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
import threading
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from lxml import etree
from lxml import html as lxml_html

from fxticker import vocab
from fxticker.inputs import MAX_PAGE_BYTES, shown

# A ticker item: optional bullet, then "CCC/QQQ = <rate> <change>%". Spaces may be ordinary or no-break.
_SP = r"[ \t\u00a0\u202f]"
_ITEM = re.compile(
    rf"^{_SP}*(?:[\u2022\u00b7*-]{_SP}*)?([A-Z]{{3}})/([A-Z]{{3}}){_SP}*={_SP}*(.*)$",
    re.MULTILINE,
)
_VALUE = re.compile(rf"^([^\s\u00a0\u202f]+){_SP}+([^\s\u00a0\u202f]+?)%$")
# ASCII digits only: \d also takes fullwidth and Arabic-Indic digits, which Decimal reads silently.
_RATE = re.compile(r"^[0-9]+(?:\.[0-9]+)?$")
_CHANGE = re.compile(r"^-?[0-9]+(?:\.[0-9]+)?$")
_DATE_LINE = re.compile(rf"^{_SP}*([0-9]{{1,2}}){_SP}+([A-Za-z]+)\.?{_SP}+([0-9]{{4}}){_SP}*$")
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
# Markup whose content no reader sees: anywhere in a page (not only in its first 8 KB), it makes the
# page HTML, so that a fake ticker in a script or a comment is never read as text.
_HIDDEN_MARKUP = re.compile(r"<(?:!--|\s*(?:script|style|noscript|template)\b)", re.IGNORECASE)
# Invisible format characters (zero-width, bidi marks, BOM, soft hyphen): a reader does not see them, so
# they must not split a ticker line or a number.
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
# An item line in any letter case: right after the block, it is a line the parser cannot read that cut
# the block short, and the copies and the date line after it would be lost without a word.
_ITEM_ANY_CASE = re.compile(_ITEM.pattern, re.MULTILINE | re.IGNORECASE)
# The ticker quotes five decimals and changes with two; a number with more digits is not a quote, and a
# long enough one would overflow PostgreSQL's numeric and stop a whole ingest run.
_MAX_DIGITS = 12
# lxml.html's own parser builds the same tree but calls back into Python to pick a class for every
# element; only the text is read here, so the plain parser does (a tenth of the time of an HTML page).
# huge_tree: pages are capped at max_bytes already; libxml2's own limits would silently drop the rest
# of a page after a text node over 10 MB (nesting too deep is refused in visible_text). One parser per
# thread: visible_text reads the parser's error log after each page.
_PARSERS = threading.local()


def _by_first_letter(names: tuple[str, ...]) -> str:
    """An alternation of names grouped by their first letter, longest rest first: a(?:rticle|side)|b..."""
    firsts = dict.fromkeys(name[0] for name in names)
    rests = ({name[1:] for name in names if name[0] == first} for first in firsts)
    return "|".join(f"{first}(?:{'|'.join(sorted(rest, key=len, reverse=True))})"
                    for first, rest in zip(firsts, rests, strict=True))


# Elements a browser starts on a line of their own; inline ones (b, span, a...) flow within the line,
# so "<b>KGS/USD</b> = 0.01144 0%" and "19 <b>December</b> 2025" stay one line each.
_LINE_TAGS = (
    "address", "article", "aside", "blockquote", "body", "br", "caption", "dd", "details", "div", "dl",
    "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hr", "li", "main", "nav", "ol", "option", "p", "pre", "section", "summary", "table",
    "td", "th", "title", "tr", "ul",
)
# Where such an element opens or closes: a mark put just before it becomes text at the line's end. One
# pass of a regular expression over the markup costs a fraction of a Python loop over the elements; a
# mark that lands in an attribute, a script or a comment is never read as text. The names are grouped by
# first letter ("d(?:d|etails|iv|l|t)"): Python's engine then tries one branch per letter at each "<",
# not every name, which halves the pass. It runs over the page's UTF-8 bytes, a third faster than over
# its text, and ignores case in ASCII only, as HTML tag names do.
_LINE_TAG = re.compile(rf"<(?=/?(?:{_by_first_letter(_LINE_TAGS)})\b)".encode(), re.IGNORECASE)
# Marks line ends while the text is joined: a Unicode noncharacter, never meant to appear in a page (one
# that does only gains a line break), and unlike NUL accepted by lxml.
_LINE_END = "\ufdd0"
_LINE_MARK = f"{_LINE_END}<".encode()
# A strip laid out as one line of inline items: a new item starts after each "%" (a literal first, so
# the search skips from one "%" to the next).
_NEXT_ITEM = re.compile(rf"%{_SP}*(?=(?:[\u2022\u00b7*-]{_SP}*)?[A-Za-z]{{3}}/[A-Za-z]{{3}}{_SP}*=)")
# A run of ticker lines with only blank space between them, from the first one on.
_BLOCK = re.compile(rf"(?:{_ITEM.pattern})(?:\s*\n(?:{_ITEM.pattern}))*", re.MULTILINE)


class TickerError(ValueError):
    """A page that holds no usable ticker; the message says why in words a reader can act on."""


@dataclass(frozen=True)
class Quote:
    """One currency as the ticker quoted it: USD per one unit, and the day's change in percent."""

    currency: str
    rate: Decimal
    change_pct: Decimal
    direction: str  # one of vocab.DIRECTIONS; see vocab.read_change for a quoted "-0%"

    @property
    def rate_text(self) -> str:
        return vocab.decimal_text(self.rate)

    @property
    def change_text(self) -> str:
        return vocab.change_text(self.change_pct, self.direction)

    @property
    def bounds(self) -> vocab.Bounds:
        """The interval of true rates that round to the quoted one."""
        return vocab.bounds(self.rate)


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
            codec = codecs.lookup(charset).name
        except LookupError:
            continue
        # As browsers do (WHATWG Encoding): a page labelled latin-1 is windows-1252, whose 0x80-0x9f are
        # printable (0x95 is the bullet); read as latin-1 they would be invisible control characters.
        if codec == "iso8859-1":
            codec = "cp1252"
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            break
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data":
            # A download cut inside a character is UTF-8 all the same: only its last bytes are lost.
            return data.decode("utf-8", errors="replace")
        return data.decode("cp1252", errors="replace")


def _html_parser() -> etree.HTMLParser:
    parser: etree.HTMLParser | None = getattr(_PARSERS, "parser", None)
    if parser is None:
        # Comments and processing instructions are never seen: dropped while parsing, not searched for.
        # The markup comes as UTF-8 bytes (visible_text), whatever charset the page declares.
        parser = _PARSERS.parser = etree.HTMLParser(huge_tree=True, remove_comments=True, remove_pis=True,
                                                    encoding="utf-8")
    return parser


def visible_text(markup: str) -> str:
    """The text a reader sees in an HTML page, line by line as a browser breaks it, without scripts
    and styles; ticker items laid out on one line come out one per line."""
    parser = _html_parser()
    # The decoded page goes to libxml2 as UTF-8 bytes: it reads them faster than a str, and a str
    # that starts with an XML declaration naming an encoding (XHTML) is refused by lxml. A lone
    # surrogate, which no reader sees, becomes "?" instead of ending the text there.
    markup_bytes = _LINE_TAG.sub(_LINE_MARK, markup.encode("utf-8", errors="replace"))
    try:
        root = lxml_html.document_fromstring(markup_bytes, parser=parser)
    except (etree.ParserError, ValueError) as exc:
        raise TickerError(f"the page is not readable HTML ({exc})") from None
    if any(error.type_name == "ERR_RESOURCE_LIMIT" for error in parser.error_log):
        # libxml2 stops reading where the nesting gets too deep: the rest of the page is lost.
        raise TickerError("the page's HTML is nested too deeply to read it whole")
    etree.strip_elements(root, *_HIDDEN_TAGS, with_tail=False)
    # Line breaks in the source stay breaks, as one text node a line did before: a ticker item or a
    # date is not wrapped inside its element. libxml2's text serialisation joins the text nodes in C, in
    # a fifth of the time of a Python join over itertext().
    text = etree.tostring(root, method="text", encoding="unicode")
    lines = text.replace(_LINE_END, "\n").split("\n")
    return _NEXT_ITEM.sub("%\n", "\n".join(filter(None, map(str.strip, lines))))


def page_text(data: bytes | str, content_type: str | None = None) -> str:
    """The page as lines of visible text, whichever form it came in."""
    text = decode(data, content_type) if isinstance(data, bytes) else data
    if "\x00" in text:
        raise TickerError("the page is binary data, not text")
    is_html = (content_type is not None and "html" in content_type.lower()) or bool(
        _LOOKS_LIKE_HTML.search(text[:8192]) or _HIDDEN_MARKUP.search(text)
    )
    text = visible_text(text) if is_html else text
    # Windows and old Mac line ends would leave a CR glued to the change ("0%\r").
    return _INVISIBLE.sub("", text).replace("\r\n", "\n").replace("\r", "\n")


def parse(
    data: bytes | str,
    *,
    today: dt.date,
    content_type: str | None = None,
    max_bytes: int = MAX_PAGE_BYTES,
) -> TickerPage:
    """Read the ticker of one page; raise TickerError when it has none or it cannot be trusted."""
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", errors="replace"))
    if size > max_bytes:
        raise TickerError(f"the page is {size:,} bytes, over the {max_bytes:,}-byte limit")
    text = page_text(data, content_type)
    items, end = _first_block(text)
    if not items:
        raise TickerError("no ticker found (no line of the form 'CCC/USD = <rate> <change>%')")
    _refuse_cut_block(text, end)
    quotes = _collapse(items)
    return TickerPage(quotes=quotes, date=_date_after(text, end, today))


def _first_block(text: str) -> tuple[list[tuple[str, str]], int]:
    """The first run of ticker lines (blank lines may separate them): (currency, value text) pairs."""
    # The block starts at the first USD pair; from there one regular expression finds where it ends and
    # another reads its items, rather than a loop of Python over every line (the strip repeats 8 times).
    for first in _ITEM.finditer(text):
        if first.group(2) == "USD" and first.group(1) != "USD":
            break
    else:
        return [], 0
    block = _BLOCK.match(text, first.start())
    end = block.end() if block else first.end()
    items = [
        (currency, value.strip(" \t\u00a0\u202f"))
        for currency, counter, value in _ITEM.findall(text, first.start(), end)
        if counter == "USD" and currency != "USD"
    ]
    return items, end


def _refuse_cut_block(text: str, end: int) -> None:
    """Refuse a block that a line in the wrong case ended early (its copies and date would be lost)."""
    following = text[end:end + 512].lstrip()
    match = _ITEM_ANY_CASE.match(following)
    if match and match.group(2).upper() == "USD":
        line = following.split("\n", 1)[0].strip()
        raise TickerError(f"the ticker line {shown(line)} is not of the form 'CCC/USD' (codes in capitals)")


def _quote(currency: str, value: str) -> Quote:
    match = _VALUE.match(value)
    if not match:
        raise TickerError(f"{currency}/USD: cannot read {shown(value)} as '<rate> <change>%'")
    rate_text, change_text = match.groups()
    if rate_text.startswith("-"):
        raise TickerError(f"{currency}/USD: negative rate {shown(rate_text)}")
    if not _RATE.match(rate_text):
        raise TickerError(f"{currency}/USD: malformed rate {shown(rate_text)}")
    if not _CHANGE.match(change_text):
        raise TickerError(f"{currency}/USD: malformed change {shown(change_text + '%')}")
    for number in (rate_text, change_text):
        # No more digits than characters: counting them is only needed for a long number.
        if len(number) > _MAX_DIGITS and sum(char.isdigit() for char in number) > _MAX_DIGITS:
            raise TickerError(f"{currency}/USD: {shown(number)} has more than {_MAX_DIGITS} digits, "
                              "more than any quote")
    try:
        rate, (change, direction) = Decimal(rate_text), vocab.read_change(change_text)
    except InvalidOperation:
        raise TickerError(f"{currency}/USD: malformed number in {shown(value)}") from None
    if rate == 0:
        raise TickerError(f"{currency}/USD: zero rate {rate_text}")
    if change <= -100:
        raise TickerError(f"{currency}/USD: impossible change {change_text}% (a rate cannot fall 100%)")
    return Quote(currency, rate, change, direction)


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
        if copy == first[:len(copy)]:
            continue  # the usual case, compared in one go: the same text is the same quotes
        for (want_ccy, want_value), want, (got_ccy, got_value) in zip(first, quotes, copy, strict=False):
            if got_ccy != want_ccy:
                raise TickerError(
                    f"the ticker's copies list currencies in different orders ({want_ccy} / {got_ccy})"
                )
            # The same text is the same quote: only a copy that reads differently needs parsing.
            if got_value != want_value and _quote(got_ccy, got_value) != want:
                raise TickerError(f"{want_ccy}/USD: the ticker's copies disagree "
                                  f"({shown(want_value)} and {shown(got_value)})")
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
        raise TickerError(f"the date line {shown(line.strip())} is not a real date") from None
    if date > today:
        raise TickerError(f"the date line {shown(line.strip())} is in the future (today is {today})")
    if date < vocab.EARLIEST:
        raise TickerError(f"the date line {shown(line.strip())} is before {vocab.EARLIEST}, "
                          "older than any ticker")
    return date
