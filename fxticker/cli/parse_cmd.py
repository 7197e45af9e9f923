"""`fxticker parse`: each page's ticker as JSON lines on stdout; nothing stored.

It imports no database driver of its own (only a set DATABASE_URL's check does) and the HTTP client only
when a URL is among the sources: on the small pages a user parses by hand those imports would take
longer than the parsing.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from functools import partial

import click

from fxticker.cli.common import current_settings, friendly_errors, page_date_option, writing_stdout
from fxticker.collect.parsing import expand, parsed_batches, quote_lines
from fxticker.collect.sources import Page, read_file
from fxticker.inputs import is_url


@click.command()
@page_date_option
@click.argument("paths", nargs=-1, required=True)
@friendly_errors
def parse(fallback_date: dt.date | None, paths: tuple[str, ...]) -> None:
    """Print the ticker of each page as JSON lines (one per currency); store nothing."""
    conf = current_settings()
    sources = list(expand(list(paths)))
    read: Callable[[str, dt.date], tuple[str, str | None]] = partial(
        quote_lines, load=_loader(sources), fallback_date=fallback_date, tz=conf.timezone,
        max_bytes=conf.max_page_bytes)
    failed = False
    # One write per page into the buffered stdout, rather than click.echo's flush per line.
    with writing_stdout():
        for batch in parsed_batches(sources, read, conf.timezone):
            for lines, error in batch:
                if error is not None:
                    sys.stdout.flush()
                    click.echo(error, err=True)
                    failed = True
                sys.stdout.write(lines)
    sys.exit(1 if failed else 0)


def _loader(sources: list[str]) -> Callable[[str, int], Page]:
    """How to load the sources: read_file when all are files, fetcher.load when one is a URL."""
    if not any(is_url(source) for source in sources):
        return read_file
    # Imported here, not at the top: only a URL needs the HTTP client, and importing it takes longer
    # than parsing a hundred small files.
    from fxticker.collect import fetcher

    return fetcher.load
