"""The command line's shared parts: the settings of the run, one-line errors, stdout and date options.

Every command module takes these from here, so that each reports errors, reads settings and parses a
date option the same way. Nothing here imports the database driver or the HTTP client (cli_database has
the database's part), so that a command which needs neither starts without them.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

import click

from fxticker import settings, vocab
from fxticker.collect.sources import FetchError
from fxticker.inputs import shown

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str) -> None:
    click.echo(f"fxticker: {message}", err=True)
    sys.exit(1)


def friendly_errors(func: F) -> F:
    """Turn the errors a user can cause or fix into one line on stderr and exit status 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (ValueError, FetchError) as exc:
            fail(str(exc))
        return None

    return wrapper  # type: ignore[return-value]


def current_settings() -> settings.Settings:
    """The settings main() read and checked as the command started; read now outside a command."""
    context = click.get_current_context(silent=True)
    conf = context.find_object(settings.Settings) if context is not None else None
    return conf if conf is not None else settings.load()


@contextmanager
def writing_stdout() -> Iterator[None]:
    """Data for stdout: a full disk, a closed pipe or any write error is one line on stderr."""
    try:
        yield
        sys.stdout.flush()
    except OSError as exc:
        # Whatever is still buffered cannot go out either; pointing stdout at /dev/null keeps the
        # interpreter's last flush from printing a second error with a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        raise ValueError(f"cannot write to standard output: {exc.strerror or exc}") from None


def checked_date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> dt.date | None:
    """A click callback for a date option: YYYY-MM-DD, not before the first ticker; a usage error else."""
    if value is None:
        return None
    try:
        date = vocab.parse_date(value)
    except ValueError as exc:
        raise click.BadParameter(f"{shown(value)} is {exc}") from None
    if date < vocab.EARLIEST:
        raise click.BadParameter(f"{shown(value)} is before {vocab.EARLIEST}, older than any ticker")
    return date


# `--date` of the commands that read pages (parse, ingest): the day of a page that shows none.
page_date_option = click.option("--date", "fallback_date", callback=checked_date, metavar="YYYY-MM-DD",
                                help="Date of pages that have no date line.")
