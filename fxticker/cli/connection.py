"""The command line's database parts: a command's connection, and the database's errors as one line."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar, cast

import psycopg

from fxticker import settings
from fxticker.cli.common import current_settings, fail, friendly_errors
from fxticker.inputs import first_line
from fxticker.storage import cluster as db
from fxticker.storage import observations

F = TypeVar("F", bound=Callable[..., Any])


def database_errors(func: F) -> F:
    """friendly_errors, and the database's errors (unreachable, refusing, a failed migration, the
    embedded cluster's) as one line on stderr and exit status 1 too."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (db.DatabaseError, observations.MigrationError) as exc:
            fail(str(exc))
        except psycopg.OperationalError as exc:
            fail(f"cannot reach the database: {first_line(exc)}")
        except psycopg.Error as exc:
            fail(f"database error: {exc.diag.message_primary or exc}")
        return None

    return cast(F, friendly_errors(wrapper))


@contextmanager
def connect(conf: settings.Settings | None = None) -> Iterator[psycopg.Connection]:
    url = db.database_url(conf or current_settings())
    with psycopg.connect(url, connect_timeout=10) as conn:
        yield conn
