"""The parser, rule by rule, on pages written for the tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fxticker import ticker
from fxticker.ticker import TickerError, parse
from tests.pages import FIVE, block, html_page, text_page

TODAY = dt.date(2026, 1, 10)


def quotes_of(page: ticker.TickerPage) -> list[tuple[str, str, str, str]]:
    return [(q.currency, q.rate_text, q.change_text, q.direction) for q in page.quotes]


def test_text_page_collapses_eight_copies_into_one_quote_per_currency() -> None:
    page = parse(text_page(), today=TODAY)
    assert quotes_of(page) == [
        ("KGS", "0.01144", "0", "flat"),
        ("KZT", "0.00193", "-0", "down"),
        ("TJS", "0.10851", "0.28", "up"),
        ("UZS", "0.00008", "0", "flat"),
        ("TMT", "0.28490", "0", "flat"),
    ]
    assert page.date == dt.date(2025, 12, 19)


def test_rates_are_exact_decimals_keeping_the_quoted_scale() -> None:
    page = parse(text_page(), today=TODAY)
    tmt = page.quotes[4]
    assert isinstance(tmt.rate, Decimal)
    assert str(tmt.rate) == "0.28490"


def test_minus_zero_is_a_fall_rounded_to_zero() -> None:
    kzt = parse(text_page(), today=TODAY).quotes[1]
    assert kzt.change_pct == 0
    assert kzt.direction == "down"
    assert kzt.change_text == "-0"


def test_negative_change_is_down_and_positive_is_up() -> None:
    page = parse(text_page([("KGS", "0.01144", "-0.18"), ("KZT", "0.00193", "1.5")]), today=TODAY)
    assert [(q.change_pct, q.direction) for q in page.quotes] == [
        (Decimal("-0.18"), "down"),
        (Decimal("1.5"), "up"),
    ]


def test_bounds_follow_the_quoted_precision() -> None:
    uzs = parse(text_page(), today=TODAY).quotes[3]
    bounds = uzs.bounds
    low, high = bounds.usd_per_unit_low, bounds.usd_per_unit_high
    assert (low, high) == (Decimal("0.000075"), Decimal("0.000085"))
    # one significant digit: 1 USD is between 11,765 and 13,333 sum
    assert int(1 / high) == 11764 and round(1 / high) == 11765
    assert int(1 / low) == 13333


def test_four_pairs_without_tmt_are_accepted() -> None:
    page = parse(text_page(FIVE[:4]), today=TODAY)
    assert [q.currency for q in page.quotes] == ["KGS", "KZT", "TJS", "UZS"]


def test_any_three_letter_code_against_usd_is_accepted() -> None:
    page = parse(text_page([("AZN", "0.58800", "0.1"), ("KGS", "0.01144", "0")]), today=TODAY)
    assert [q.currency for q in page.quotes] == ["AZN", "KGS"]


def test_quotes_against_other_currencies_are_ignored() -> None:
    quotes = [("KGS", "0.01144", "0"), ("KZT", "0.00193", "-0")]
    text = block(quotes).replace("KZT/USD", "KZT/EUR") + "19 December 2025\n"
    page = parse(text, today=TODAY)
    assert [q.currency for q in page.quotes] == ["KGS"]


@pytest.mark.parametrize("space", [" ", "\u00a0"])
@pytest.mark.parametrize("bullet", ["\u2022", ""])
def test_bullets_and_no_break_spaces_are_optional(space: str, bullet: str) -> None:
    page = parse(text_page(space=space, bullet=bullet), today=TODAY)
    assert quotes_of(page)[2] == ("TJS", "0.10851", "0.28", "up")


def test_trailing_partial_copy_that_agrees_is_fine() -> None:
    page = parse(text_page(copies=7, partial=3), today=TODAY)
    assert len(page.quotes) == 5


def test_complete_copies_that_disagree_reject_the_page_naming_currency_and_values() -> None:
    good = block(FIVE, copies=4)
    changed = [(c, "0.10900" if c == "TJS" else r, ch) for c, r, ch in FIVE]
    text = good + block(changed, copies=4).replace("\u2022", "  \u2022", 1) + "19 December 2025\n"
    with pytest.raises(TickerError) as info:
        parse(text, today=TODAY)
    message = str(info.value)
    assert "TJS" in message and "0.10851" in message and "0.10900" in message


def test_partial_copy_that_disagrees_is_rejected() -> None:
    changed = [(c, "0.01150" if c == "KGS" else r, ch) for c, r, ch in FIVE]
    text = block(FIVE, copies=8) + "  " + block(changed, copies=0, partial=2) + "19 December 2025\n"
    with pytest.raises(TickerError, match="KGS"):
        parse(text, today=TODAY)


def test_page_without_date_line_has_no_date() -> None:
    assert parse(text_page(date=None), today=TODAY).date is None


def test_dates_later_in_the_article_are_not_the_date_line() -> None:
    text = text_page(date=None, body="Some heading\n\n19 December 2025\n")
    assert parse(text, today=TODAY).date is None


@pytest.mark.parametrize("line", ["31 February 2025", "0 March 2025", "12 Smarch 2025x"])
def test_impossible_dates_are_rejected_or_not_dates(line: str) -> None:
    text = text_page(date=line)
    if line.endswith("x"):
        assert parse(text, today=TODAY).date is None
    else:
        with pytest.raises(TickerError, match="not a real date"):
            parse(text, today=TODAY)


def test_future_date_is_rejected() -> None:
    with pytest.raises(TickerError, match="in the future"):
        parse(text_page(date="11 January 2026"), today=TODAY)


def test_implausibly_old_date_is_rejected() -> None:
    with pytest.raises(TickerError, match="older than any ticker"):
        parse(text_page(date="1 January 1970"), today=TODAY)


@pytest.mark.parametrize(
    ("rate", "change", "reason"),
    [
        ("0.00000", "0", "zero rate"),
        ("-0.01144", "0", "negative rate"),
        ("0.0O193", "0", "malformed rate"),
        ("0.01144", "abc", "malformed change"),
        ("0.01.144", "0", "malformed rate"),
        ("0.01144", "-100", "impossible change"),
    ],
)
def test_bad_numbers_are_rejected(rate: str, change: str, reason: str) -> None:
    with pytest.raises(TickerError, match=reason):
        parse(text_page([("KGS", rate, change)]), today=TODAY)


def test_value_without_percent_is_rejected() -> None:
    text = "\u2022 KGS/USD = 0.01144\n19 December 2025\n"
    with pytest.raises(TickerError, match="cannot read"):
        parse(text, today=TODAY)


def test_no_ticker_is_rejected() -> None:
    with pytest.raises(TickerError, match="no ticker found"):
        parse("Just an article.\n\nNothing else.\n", today=TODAY)


def test_page_over_the_size_cap_is_rejected() -> None:
    with pytest.raises(TickerError, match="over the 1,000-byte limit"):
        parse(text_page(), today=TODAY, max_bytes=1000)


def test_html_reads_visible_text_only() -> None:
    fake = "<script>var t = '\u2022 KGS/USD = 9.99999 50%';</script><style>/* KZT/USD = 1 1% */</style>"
    page = parse(html_page(head=fake), today=TODAY)
    assert quotes_of(page)[0] == ("KGS", "0.01144", "0", "flat")
    assert page.date == dt.date(2025, 12, 19)


def test_an_xhtml_page_with_an_xml_declaration_is_read_as_its_bytes_were_decoded() -> None:
    # The declaration names one charset, the meta tag another and the bytes are UTF-8 (the header
    # said so): the text is read as decoded once, never again by libxml2.
    page = html_page(charset="windows-1251", body="Ташкент \u2019 news")
    xhtml = '<?xml version="1.0" encoding="iso-8859-1"?>\n' + page
    parsed = parse(xhtml.encode("utf-8"), today=TODAY, content_type="application/xhtml+xml; charset=utf-8")
    assert quotes_of(parsed) == quotes_of(parse(page, today=TODAY)) and len(parsed.quotes) == 5
    assert parsed.date == dt.date(2025, 12, 19)
    assert "Ташкент \u2019 news" in ticker.page_text(xhtml.encode("utf-8"), "text/html; charset=utf-8")


def test_a_lone_surrogate_in_html_text_does_not_end_the_page_there() -> None:
    markup = html_page().replace("<title>News", "<title>News\ud800")
    assert parse(markup, today=TODAY).date == dt.date(2025, 12, 19)
    assert ticker.page_text("<html><body><p>a\ud800b</p></body></html>") == "a?b"


def test_inline_markup_flows_within_a_line_as_a_browser_shows_it() -> None:
    items = "".join(
        f'<li>\u2022 <b>{c}/USD</b> = <span class="rate">{r}</span> <span class="{c}">{ch}%</span></li>'
        for _ in range(8) for c, r, ch in FIVE)
    markup = (f'<html><body><ul class="ticker">{items}</ul>'
              "<div class=today>19 <b>December</b><br>2025</div>"
              "<p>19 <em>December</em> 2025</p></body></html>")
    page = parse(markup, today=TODAY)
    assert quotes_of(page) == [("KGS", "0.01144", "0", "flat"), ("KZT", "0.00193", "-0", "down"),
                               ("TJS", "0.10851", "0.28", "up"), ("UZS", "0.00008", "0", "flat"),
                               ("TMT", "0.28490", "0", "flat")]
    # "19 December" then a <br>: two lines, so not a date line; the paragraph after it is not read
    # as one either (the date line is the first line after the block).
    assert page.date is None
    dated = markup.replace("<br>", " ")
    assert parse(dated, today=TODAY).date == dt.date(2025, 12, 19)


def test_a_strip_of_inline_items_is_read_item_by_item() -> None:
    items = "".join(f"<span>\u2022\u00a0{c}/USD = {r} {ch}%</span> " for _ in range(8) for c, r, ch in FIVE)
    markup = f"<html><body><div class=strip>{items}</div><div>19 December 2025</div></body></html>"
    page = parse(markup, today=TODAY)
    assert [q[:3] for q in quotes_of(page)] == [(c, r, ch) for c, r, ch in FIVE]
    assert page.date == dt.date(2025, 12, 19)


def test_pages_parse_alike_from_several_threads_at_once() -> None:
    from concurrent.futures import ThreadPoolExecutor

    deep = html_page().replace("<body>", "<body>" + "<div>" * 3000).replace("</body>", "</div>" * 3000)
    pages = [html_page(), deep] * 20

    def outcome(markup: str) -> str:
        try:
            return str(quotes_of(parse(markup, today=TODAY))[0])
        except TickerError as exc:
            return str(exc)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(outcome, pages))
    # Each thread reads its own parser's error log: a deep page never spoils a sound one, or the reverse.
    assert results == [outcome(html_page()), outcome(deep)] * 20
    assert "nested too deeply" in results[1] and "KGS" in results[0]


def test_html_with_only_a_scripted_ticker_has_no_ticker() -> None:
    markup = "<html><body><script>document.write('KGS/USD = 0.01144 0%')</script><p>Hi</p></body></html>"
    with pytest.raises(TickerError, match="no ticker found"):
        parse(markup, today=TODAY)


def test_bytes_are_decoded_as_declared() -> None:
    body = "Bazaar news \u2014 caf\u00e9 prices"
    data = html_page(charset="windows-1251", body=body).replace("\u2022", "*").encode("cp1251", "replace")
    assert len(parse(data, today=TODAY).quotes) == 5
    assert "caf" in ticker.decode(data)


def test_undeclared_bytes_fall_back_from_utf8_to_a_single_byte_charset() -> None:
    data = text_page(body="Na\u00efve caf\u00e9\n").replace("\u2022", "*").encode("latin-1")
    assert ticker.decode(data).endswith("Na\u00efve caf\u00e9\n")
    assert len(parse(data, today=TODAY).quotes) == 5


def test_content_type_header_charset_wins_over_guessing() -> None:
    data = "\u2022 KGS/USD = 0.01144 0%\n19 December 2025\n".encode("utf-16-le")
    page = parse(data, today=TODAY, content_type="text/plain; charset=utf-16-le")
    assert page.quotes[0].currency == "KGS"


def test_binary_data_is_rejected() -> None:
    with pytest.raises(TickerError, match="binary"):
        parse(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", today=TODAY)


def _page_or_ticker_error(source: str | bytes) -> None:
    try:
        page = parse(source, today=TODAY)
    except TickerError as exc:
        assert str(exc), "a rejection always says why"
    else:
        assert page.quotes and all(q.rate > 0 for q in page.quotes)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_arbitrary_text_gives_a_page_or_a_ticker_error(text: str) -> None:
    _page_or_ticker_error(text)


@settings(max_examples=300, deadline=None)
@given(st.binary())
def test_arbitrary_bytes_give_a_page_or_a_ticker_error(data: bytes) -> None:
    _page_or_ticker_error(data)


_items = st.lists(
    st.tuples(
        st.sampled_from(["KGS", "KZT", "TJS", "UZS", "TMT", "AZN"]),
        st.decimals(min_value=Decimal("0.00001"), max_value=Decimal("99"), places=5),
        st.decimals(min_value=Decimal("-99"), max_value=Decimal("99"), places=2),
    ),
    min_size=1,
    max_size=6,
    unique_by=lambda item: item[0],
)


@settings(max_examples=200, deadline=None)
@given(_items, st.integers(min_value=1, max_value=8))
def test_generated_tickers_round_trip(items: list[tuple[str, Decimal, Decimal]], copies: int) -> None:
    quotes = [(c, format(r, "f"), format(ch, "f")) for c, r, ch in items]
    page = parse(text_page(quotes, copies=copies), today=TODAY)
    assert [(q.currency, q.rate, q.change_pct) for q in page.quotes] == [
        (c, r, abs(ch) if ch == 0 else ch) for c, r, ch in items
    ]


# Hostile pages: each of these was accepted with wrong values, lost data silently or gave an
# unreadable message before the parser learnt better.

def test_windows_and_old_mac_line_ends_are_read() -> None:
    for newline in ("\r\n", "\r"):
        page = parse(text_page().replace("\n", newline), today=TODAY)
        assert quotes_of(page)[2] == ("TJS", "0.10851", "0.28", "up")
        assert page.date == dt.date(2025, 12, 19)


@pytest.mark.parametrize("mark", ["\u200b", "\u200f", "\u2066", "\ufeff", "\u00ad"])
def test_invisible_characters_neither_split_lines_nor_numbers(mark: str) -> None:
    text = text_page().replace("KZT/USD", mark + "KZT/USD").replace("0.10851", "0.10" + mark + "851")
    page = parse(text, today=TODAY)
    assert quotes_of(page) == quotes_of(parse(text_page(), today=TODAY))
    assert page.date == dt.date(2025, 12, 19)


def test_a_lower_case_line_inside_the_block_rejects_the_page() -> None:
    # Before, the block silently ended at the line: KGS was dropped and the date line lost.
    with pytest.raises(TickerError) as info:
        parse(text_page().replace("KGS/USD", "kgs/USD"), today=TODAY)
    assert r"'\u2022 kgs/USD = 0.01144 0%' is not of the form 'CCC/USD'" in str(info.value)


@pytest.mark.parametrize("rate", ["\uff10.\uff10\uff11\uff11\uff14\uff14",  # fullwidth
                                  "\u0660.\u0660\u0661\u0661\u0664\u0664"])  # Arabic-Indic
def test_only_ascii_digits_are_numbers(rate: str) -> None:
    with pytest.raises(TickerError, match="malformed rate"):
        parse(text_page([("KGS", rate, "0")]), today=TODAY)


@pytest.mark.parametrize(("rate", "change"), [("0." + "1" * 200, "0"), ("1" * 20_000, "0"),
                                              ("0.01144", "1" * 13)])
def test_numbers_with_absurd_precision_are_rejected_with_a_short_message(rate: str, change: str) -> None:
    with pytest.raises(TickerError, match="has more than 12 digits") as info:
        parse(text_page([("KGS", rate, change)]), today=TODAY)
    assert len(str(info.value)) < 120


def test_messages_quote_at_most_a_short_piece_of_the_page() -> None:
    text = "\u2022 KGS/USD = 0.01144 0%" + " x" * 1_000_000 + "\n19 December 2025\n"
    with pytest.raises(TickerError, match="cannot read") as info:
        parse(text, today=TODAY)
    assert len(str(info.value)) < 120


def test_a_fake_ticker_in_a_script_is_not_read_however_far_down_the_markup_starts() -> None:
    fake = "<script>\n\u2022 KGS/USD = 9.99999 50%\n</script>"
    for lead in ("\n" * 9000, "<!-- " + "x" * 9000 + " -->\n"):
        page = parse(lead + html_page(head=fake), today=TODAY)
        assert quotes_of(page)[0] == ("KGS", "0.01144", "0", "flat")


def test_latin1_label_is_read_as_windows_1252_like_browsers_do() -> None:
    # The bullet is 0x95 in windows-1252; as latin-1 it was an invisible control character.
    data = html_page(charset="iso-8859-1", body="Caf\u00e9 news").encode("cp1252")
    assert quotes_of(parse(data, today=TODAY))[0] == ("KGS", "0.01144", "0", "flat")


def test_deep_html_is_read_or_refused_but_never_cut_short_silently() -> None:
    def nested(depth: int) -> str:
        return html_page().replace("<body>", "<body>" + "<div>" * depth).replace("</body>", "</div>" * depth)

    assert len(parse(nested(1000), today=TODAY).quotes) == 5
    with pytest.raises(TickerError, match="nested too deeply"):
        parse(nested(5000), today=TODAY)


def test_a_text_node_over_ten_megabytes_does_not_hide_the_rest_of_the_page() -> None:
    markup = html_page(body="word " * 2_200_000).replace("</main>", "</main><p>Epilogue</p>")
    assert "Epilogue" in ticker.page_text(markup)


def test_a_utf8_page_cut_inside_a_character_stays_utf8() -> None:
    # Before, the whole page fell back to windows-1252 and every bullet became mojibake: no ticker.
    data = text_page(body="Caf\u00e9 prices \u2014 steady").encode("utf-8")[:-9]
    assert quotes_of(parse(data, today=TODAY))[0] == ("KGS", "0.01144", "0", "flat")
