"""`fxticker quality`: the scorecard of the ticker against the central banks (official/scorecard.py), as a
table, JSON or CSV, with the same numbers as /api/quality."""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any

import click

from fxticker import vocab
from fxticker.cli.common import checked_date, writing_stdout
from fxticker.cli.connection import connect, database_errors
from fxticker.export import csvfile
from fxticker.official import scorecard
from fxticker.storage import daily

FORMATS = ("table", "json", "csv")


def table(cards: list[dict[str, Any]]) -> str:
    """One column per currency, one line per field (the CSV's columns): twenty fields do not fit across a
    terminal. A null is a dash."""
    if not cards:
        return "no currencies\n"
    names = scorecard.CSV_COLUMNS[1:]
    values = [scorecard.csv_row(card)[1:] for card in cards]
    cells = [["-" if v[k] is None else str(v[k]) for v in values] for k in range(len(names))]
    widths = [max(len(card["currency"]), *(len(row[k]) for row in cells)) for k, card in enumerate(cards)]
    label = max(map(len, names))
    head = "".join(f"  {card['currency']:>{w}}" for card, w in zip(cards, widths, strict=True))
    lines = [" " * label + head]
    lines += [f"{name:<{label}}" + "".join(f"  {c:>{w}}" for c, w in zip(row, widths, strict=True))
              for name, row in zip(names, cells, strict=True)]
    return "\n".join(lines) + "\n"


@click.command("quality")
@click.option("--currencies", metavar="KZT,UZS", help="Currencies (default: every one stored).")
@click.option("--from", "start", callback=checked_date, metavar="YYYY-MM-DD",
              help="First day (default: the first quoted).")
@click.option("--to", "end", callback=checked_date, metavar="YYYY-MM-DD",
              help="Last day (default: the last quoted).")
@click.option("--format", "form", type=click.Choice(FORMATS), default="table", show_default=True,
              help="table for reading; json and csv as /api/quality and /api/quality.csv give them.")
@database_errors
def quality(currencies: str | None, start: dt.date | None, end: dt.date | None, form: str) -> None:
    """How close the ticker is to the central banks: a scorecard per currency over a date range."""
    codes = vocab.parse_codes("currencies", currencies) if currencies is not None else None
    vocab.date_range(start, end)
    with connect() as conn:
        conn.read_only = True
        stored = daily.stored_currencies(conn)
        if codes:
            vocab.check_known("currencies", codes, [vocab.USD, *stored])
        chosen = scorecard.chosen(codes, stored)
        cards = scorecard.scorecard(conn, chosen, start, end).cards if chosen else []
    with writing_stdout():
        if form == "json":
            sys.stdout.write(json.dumps(cards, indent=2) + "\n")
        elif form == "csv":
            rows = [[csvfile.cell(value) for value in scorecard.csv_row(card)] for card in cards]
            # Bytes: the CSV's CRLF line ends as written, whatever the platform's text mode does.
            sys.stdout.buffer.write(b"".join(csvfile.encoded(csvfile.chunks(scorecard.CSV_COLUMNS, [rows]))))
        else:
            sys.stdout.write(table(cards))
