"""Pages in the site's ticker format, written for the tests with filler text of our own, and the dashboard's
latest table read back."""

from __future__ import annotations

import html
import os
from pathlib import Path

import lxml.html

FIVE = [
    ("KGS", "0.01144", "0"),
    ("KZT", "0.00193", "-0"),
    ("TJS", "0.10851", "0.28"),
    ("UZS", "0.00008", "0"),
    ("TMT", "0.28490", "0"),
]

FILLER = (
    "Market notes\n\n"
    "Traders in the regional bazaars reported a quiet week, with prices of flour and cotton steady.\n\n"
    "An unrelated line that mentions 2024 and 19 percent, which is not a date line.\n"
)


def block(quotes: list[tuple[str, str, str]] = FIVE, copies: int = 8, partial: int = 0,
          space: str = " ", bullet: str = "\u2022") -> str:
    """The scrolling ticker as text: `copies` full copies, then the first `partial` items once more."""
    items = [f"{bullet}{space}{c}/USD{space}={space}{r}{space}{ch}%" for c, r, ch in quotes]
    lines = items * copies + items[:partial]
    return lines[0] + "\n" + "".join(f"  {line}\n" for line in lines[1:])


def text_page(quotes: list[tuple[str, str, str]] = FIVE, date: str | None = "19 December 2025",
              copies: int = 8, body: str = FILLER, **kwargs: object) -> str:
    dated = f"{date}\n\n" if date else "\n"
    return block(quotes, copies, **kwargs) + dated + body  # type: ignore[arg-type]


def html_page(quotes: list[tuple[str, str, str]] = FIVE, date: str | None = "19 December 2025",
              copies: int = 8, head: str = "", charset: str = "utf-8", body: str = FILLER) -> str:
    items = "".join(
        f'<li class="tick">\u2022 {c}/USD = {r} {ch}%</li>' for _ in range(copies) for c, r, ch in quotes
    )
    dated = f'<div class="today">{date}</div>' if date else ""
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in body.split("\n\n"))
    return (
        f'<!DOCTYPE html><html><head><meta charset="{charset}"><title>News</title>{head}</head>'
        f'<body><ul class="ticker">{items}</ul>{dated}<main>{paragraphs}</main></body></html>'
    )


def write_page(folder: Path, name: str, date: str, quotes: list[tuple[str, str, str]] = FIVE,
               mtime: int | None = None) -> str:
    """A text page in folder, captured at mtime if given; its path."""
    path = folder / name
    path.write_text(text_page(quotes, date=date))
    if mtime is not None:
        os.utime(path, (mtime, mtime))  # a file's capture time is its modification time
    return str(path)


def with_quote(code: str, rate: str, change: str) -> list[tuple[str, str, str]]:
    """FIVE with one currency's quote changed."""
    return [(c, rate, change) if c == code else (c, r, ch) for c, r, ch in FIVE]


def table_rows(page: str) -> dict[str, list[str]]:
    """The dashboard's latest table: each currency's cells as text."""
    tree = lxml.html.fromstring(page)
    return {
        tr.get("data-currency"): [" ".join(cell.text_content().split()) for cell in tr.xpath("th|td")]
        for tr in tree.xpath('//table[@class="latest"]/tbody/tr')
    }
