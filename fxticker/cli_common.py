"""The command line's shared parts: the settings of the run, one-line errors, stdout, the database, dates.

Every command module (fxticker.cli, cli_official, cli_backfill) takes these from here, so that each
reports errors, reads settings and parses a date option the same way.
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
import psycopg

from fxticker import db, settings, store, vocab
from fxticker.fetch import FetchError

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
        except (db.DatabaseError, store.MigrationError, ValueError, FetchError) as exc:
            fail(str(exc))
        except psycopg.OperationalError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            fail(f"cannot reach the database: {first}")
        except psycopg.Error as exc:
            fail(f"database error: {exc.diag.message_primary or exc}")
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


@contextmanager
def connect(conf: settings.Settings | None = None) -> Iterator[psycopg.Connection]:
    url = db.database_url(conf or current_settings())
    with psycopg.connect(url, connect_timeout=10) as conn:
        yield conn


def checked_date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> dt.date | None:
    """A click callback for a date option: YYYY-MM-DD, not before the first ticker; a usage error else."""
    if value is None:
        return None
    try:
        date = vocab.parse_date(value)
    except ValueError as exc:
        raise click.BadParameter(f"{vocab.shown(value)} is {exc}") from None
    if date < vocab.EARLIEST:
        raise click.BadParameter(f"{vocab.shown(value)} is before {vocab.EARLIEST}, older than any ticker")
    return date
