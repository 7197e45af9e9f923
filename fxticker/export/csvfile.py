"""The one CSV writer of every .csv answer and of `fxticker export`: RFC 4180 with CRLF line ends, written
in chunks as the rows come, and no cell that a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal

from fxticker import vocab

BOM = "\ufeff"
CONTENT_TYPE = "text/csv; charset=utf-8"
# OWASP's list: a spreadsheet may run a cell starting with these as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?", re.ASCII)

Row = Sequence[str]


def guard(text: str) -> str:
    """The text, or with an apostrophe before it when a spreadsheet would run it as a formula; a number
    such as -0.51 stays a number."""
    if text.startswith(FORMULA_START) and not _NUMBER.fullmatch(text):
        # The apostrophe makes spreadsheets show the text as text (OWASP's advice for CSV injection).
        return "'" + text
    return text


def cell(value: object) -> str:
    """One value as a cell: ISO dates and times (UTC), decimals as plain digits, guarded text."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return vocab.decimal_text(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return guard(str(value))


def guarded(batch: Sequence[Row], columns: Iterable[int]) -> list[Row]:
    """The batch with guard() applied to the given columns. Rows are copied only where a cell needs it
    (rarely), so a clean batch costs a scan of those columns."""
    rows: list[Row] = list(batch)
    for i in columns:
        for k in [k for k, row in enumerate(batch) if row[i].startswith(FORMULA_START)]:
            cells = list(rows[k])
            cells[i] = guard(cells[i])
            rows[k] = cells
    return rows


def chunks(header: Row, batches: Iterable[Sequence[Row]], *, bom: bool = False,
           text_columns: Iterable[int] | None = None) -> Iterator[str]:
    """The CSV as text, one chunk per batch of rows: the header (after a BOM if asked) with the first.

    text_columns: the only columns that may hold text starting like a formula (the others are numbers,
    dates and codes a query formats); by default every column is guarded.
    """
    columns = list(range(len(header)) if text_columns is None else text_columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if bom:
        buffer.write(BOM)
    writer.writerow(header)
    wrote = False
    for batch in batches:
        writer.writerows(guarded(batch, columns))
        wrote = True
        yield _drain(buffer)
    if not wrote:
        yield _drain(buffer)  # the header alone


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def encoded(pieces: Iterable[str]) -> Iterator[bytes]:
    """Text chunks as UTF-8 bytes, without newline translation."""
    for piece in pieces:
        yield piece.encode("utf-8")
