"""The web tier's database: the read pool of one app, the connections it hands out, its data version watch
(fxticker.web.version_watch), and their closing.

`init_app` opens the pool and starts the watch when the app is built (never at import) and `close` closes
both when the app stops (a gunicorn worker exiting, a test's fixture). A view takes a connection with
`read_connection()`; an unreachable database is the 503 `Unavailable`, never a 500.
"""

from __future__ import annotations

import logging
import select
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import psycopg_pool
from flask import Flask, current_app, g

from fxticker.inputs import first_line
from fxticker.storage.cluster import WEB_USER
from fxticker.web.errors import Unavailable
from fxticker.web.version_watch import VersionWatch

log = logging.getLogger(__name__)

POOL_TIMEOUT = 5.0
# How the web tier's sessions show in pg_stat_activity.
APPLICATION_NAME = "fxticker-web"
WATCH_APPLICATION_NAME = "fxticker-web-watch"
_POOL = "fxticker_pool"
_WATCH = "fxticker_version_watch"
# The connection a cached view holds while it runs (fxticker.web.cache): read_connection reuses it.
_HELD = "fxticker_held_connection"


def init_app(app: Flask, url: str, max_size: int) -> None:
    """Give app its read pool; it connects in the background, so an app starts with the database down."""
    pool = psycopg_pool.ConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        kwargs={"connect_timeout": 5, "application_name": APPLICATION_NAME},
        configure=as_reader,
        open=False,
        name="fxticker-read",
    )
    pool.open(wait=False)
    app.extensions[_POOL] = pool
    watch = VersionWatch(url, as_reader, WATCH_APPLICATION_NAME)
    watch.start()
    app.extensions[_WATCH] = watch


def pool(app: Flask | None = None) -> psycopg_pool.ConnectionPool:
    """The read pool of app (default: the current one)."""
    found: psycopg_pool.ConnectionPool = (app or current_app).extensions[_POOL]
    return found


def watch(app: Flask) -> VersionWatch:
    """app's data version watch."""
    found: VersionWatch = app.extensions[_WATCH]
    return found


def watched_version() -> int | None:
    """The current app's data version as its watch knows it, or None when a request must read it."""
    return watch(current_app).version()


def close(app: Flask) -> None:
    """Close app's pool and its connections, and stop its watch; requests after this fail."""
    app.extensions[_WATCH].stop()
    pool(app).close()


def as_reader(conn: psycopg.Connection) -> None:
    """Every read connection acts as the SELECT-only role that migrate creates (sql/003_*.sql).

    The login itself should be no more than a member of that role (the embedded cluster's fxticker_web,
    compose's fxticker_web): SET ROLE alone can be undone by RESET ROLE, so a superuser login is logged
    as a warning. A login that may not take the role, or a cluster never migrated, gets no connection:
    fail closed (requests answer 503), with the reason in the log.

    Autocommit with read-only transactions by default: each statement of a request runs on its own, read
    committed, without the two round trips of BEGIN and COMMIT. A reader that needs a transaction (the
    export's server-side cursor) opens one with conn.transaction(), and it is read-only too.
    """
    conn.autocommit = True
    # The login's own, read before SET ROLE: the server reports is_superuser of the current role.
    superuser = conn.info.parameter_status("is_superuser") == "on"
    try:
        conn.execute("SET ROLE fxticker_reader")
    except (psycopg.errors.InsufficientPrivilege, psycopg.errors.InvalidParameterValue) as exc:
        log.error("the web tier reads as fxticker_reader, but %s; run 'fxticker migrate' and grant "
                  "fxticker_reader to the read URL's user", exc.diag.message_primary)
        raise
    conn.execute("SET default_transaction_read_only = on")
    if superuser:
        # A superuser may RESET ROLE: an injected statement could undo all of the above.
        log.warning("the web tier logs in to the database as a superuser; give it a login that is a member "
                    "of fxticker_reader and nothing more (as the embedded cluster's %s)", WEB_USER)


@contextmanager
def checked_connection(
    read_pool: psycopg_pool.ConnectionPool, timeout: float = POOL_TIMEOUT
) -> Iterator[psycopg.Connection]:
    """A connection of read_pool that is not known to be broken; back to the pool after the block.

    A connection the server dropped (a restart, pg_terminate_backend, an idle timeout) is found here, not
    by the request that would fail on it. The server says goodbye before it closes a session (an error
    message, then the end of the stream), so a broken idle connection has something to read on its
    socket, and a healthy one has nothing: only a connection with something to read is pinged, and a
    request on a healthy one costs no extra round trip. One broken connection means the others most
    likely are too (after a restart they all are): the idle ones are tested at once and replaced, and
    the request takes a fresh connection. Not the pool's own `check=`: it pings every checkout, and
    between two broken connections it waits 1, 2, 4 s..., so a pool of several dropped connections would
    outlast the request's timeout, which is the 503 this avoids.
    """
    conn = read_pool.getconn(timeout=timeout)
    if _has_input(conn):
        try:
            read_pool.check_connection(conn)
        except psycopg.OperationalError as exc:
            log.warning("a pooled connection was broken (%s); testing the idle ones", first_line(exc))
            read_pool.putconn(conn)  # broken: the pool closes it and opens another
            read_pool.check()
            conn = read_pool.getconn(timeout=timeout)
    try:
        yield conn
    finally:
        read_pool.putconn(conn)


def _has_input(conn: psycopg.Connection) -> bool:
    """Whether the server sent anything since the connection's last answer (or it cannot be told).

    An idle session gets nothing unasked but its server's goodbye, a notice, or a changed parameter;
    each of these is worth a ping.
    """
    if conn.closed:
        return True
    poller = select.poll()
    poller.register(conn.pgconn.socket, select.POLLIN)
    return bool(poller.poll(0))


@contextmanager
def _pooled() -> Iterator[psycopg.Connection]:
    try:
        with checked_connection(pool()) as conn:
            yield conn
    except (psycopg_pool.PoolTimeout, psycopg.OperationalError) as exc:
        log.warning("database unavailable: %s", exc)
        raise Unavailable("the database is unavailable; try again shortly") from None


@contextmanager
def read_connection() -> Iterator[psycopg.Connection]:
    """A pooled connection (autocommit, read-only) for one request; an unreachable database is a 503.

    Inside holding_read_connection it is that same connection: a cached view's miss runs on the
    connection its data version was read on rather than taking a second one from the pool.
    """
    held: psycopg.Connection | None = g.get(_HELD)
    if held is not None:
        yield held
        return
    with _pooled() as conn:
        yield conn


@contextmanager
def holding_read_connection() -> Iterator[psycopg.Connection]:
    """A pooled connection that read_connection hands out again until the block ends (same request)."""
    with _pooled() as conn:
        setattr(g, _HELD, conn)
        try:
            yield conn
        finally:
            g.pop(_HELD, None)
