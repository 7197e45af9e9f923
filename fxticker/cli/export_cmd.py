"""`fxticker export`: stored rates as CSV, as the web app's /export.csv."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fxticker import vocab
from fxticker.cli.common import writing_stdout
from fxticker.cli.connection import connect, database_errors
from fxticker.export import tables
from fxticker.storage import daily


@click.command("export")
@click.option("--currencies", metavar="KZT,UZS", help="Currencies to export (default: all).")
@click.option("--from", "start", metavar="YYYY-MM-DD", help="First day (default: the earliest stored).")
@click.option("--to", "end", metavar="YYYY-MM-DD", help="Last day (default: the latest stored).")
@click.option("--resolution", type=click.Choice(tables.RESOLUTIONS), default=tables.DEFAULT_RESOLUTION,
              show_default=True,
              help="daily: each day's latest quote; raw: every revision with its provenance.")
@click.option("--direction", type=click.Choice(tables.DIRECTIONS), default=tables.DEFAULT_DIRECTION,
              show_default=True, help="usd_per_unit: as quoted; per_usd: units of the currency per USD.")
@click.option("--bom", is_flag=True, help="Start with a UTF-8 byte-order mark, for Excel.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (default: standard output).")
@database_errors
def export_csv(currencies: str | None, start: str | None, end: str | None, resolution: str,
               direction: str, bom: bool, output: Path | None) -> None:
    """Write stored rates as CSV (the same as the web app's /export.csv)."""
    query = tables.make_query(currencies=currencies, start=start, end=end, resolution=resolution,
                              direction=direction)
    with connect() as conn:
        conn.read_only = True
        vocab.check_stored("currencies", query.currencies, daily.stored_currencies(conn))
        if output is None:
            with writing_stdout():
                tables.write(conn, query, sys.stdout.buffer, bom=bom)
            return
        try:
            with output.open("wb") as out:
                tables.write(conn, query, out, bom=bom)
        except OSError as exc:
            raise ValueError(f"cannot write {output}: {exc.strerror}") from None
    click.echo(f"wrote {output}", err=True)
