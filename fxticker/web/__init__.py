"""The Flask application: create_app wires the database pool, the blueprints and one error handler."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import psycopg
import psycopg_pool
from flask import Flask, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.wrappers import Response

from fxticker import db, settings
from fxticker.web.errors import ApiError, Unavailable

log = logging.getLogger(__name__)

POOL_TIMEOUT = 5.0


def create_app(config: Mapping[str, Any] | None = None, *, conf: settings.Settings | None = None) -> Flask:
    """Build the app. The pool is created here, not at import; it connects in the background.

    conf: the settings the caller read and checked (default: read from the environment now). Keys of
    config override what the app derives from them (DATABASE_READ_URL, POOL_SIZE, HEALTH_MAX_AGE).
    """
    conf = conf or settings.load()
    app = Flask(__name__)
    app.config.update(config or {})
    app.extensions["fxticker_settings"] = conf
    if "DATABASE_READ_URL" not in app.config:
        app.config["DATABASE_READ_URL"] = db.read_url(conf)
    pool = psycopg_pool.ConnectionPool(
        app.config["DATABASE_READ_URL"],
        min_size=1,
        max_size=int(app.config.get("POOL_SIZE", conf.pool_size)),
        kwargs={"connect_timeout": 5},
        configure=_as_reader,
        open=False,
        name="fxticker-read",
    )
    pool.open(wait=False)
    app.extensions["fxticker_pool"] = pool

    from fxticker.web import (
        api_v1,
        api_v2,
        cache,
        dashboard,
        export,
        headers,
        health,
        metrics,
        native,
        openapi,
    )

    cache.init_app(app)
    app.config.setdefault("HEALTH_MAX_AGE", conf.scrape_max_age)
    metrics.init_app(app, pool, conf.prometheus_multiproc_dir)
    app.register_blueprint(health.bp)
    app.register_blueprint(native.bp)
    for blueprint in (api_v1.bp, api_v2.bp, openapi.bp, dashboard.bp, export.bp):
        app.register_blueprint(blueprint)
    headers.install(app)
    app.register_error_handler(Exception, _handle_error)
    return app


def _as_reader(conn: psycopg.Connection) -> None:
    """Every read connection acts as the SELECT-only role that migrate creates (sql/003_*.sql).

    SET ROLE rather than trusting the URL's account: on one machine the web tier shares the owner's URL
    and still cannot write; a dedicated read login (a member of the role) passes through it unchanged.
    A login that may not take the role, or a cluster never migrated, gets no connection: fail closed
    (requests answer 503), with the reason in the log.

    The connection stays in autocommit with read-only transactions by default: a request's statements
    each run on their own (read committed, as they did inside BEGIN READ ONLY ... COMMIT, which took a
    fresh snapshot per statement all the same) without the two round trips of BEGIN and COMMIT. A reader
    that needs a transaction (the export's server-side cursor) opens one with conn.transaction(), and it
    is read-only too.
    """
    conn.autocommit = True
    try:
        conn.execute("SET ROLE fxticker_reader")
    except (psycopg.errors.InsufficientPrivilege, psycopg.errors.InvalidParameterValue) as exc:
        log.error("the web tier reads as fxticker_reader, but %s; run 'fxticker migrate' and grant "
                  "fxticker_reader to the read URL's user", exc.diag.message_primary)
        raise
    conn.execute("SET default_transaction_read_only = on")


# The connection a cached view holds while it runs (fxticker.web.cache): read_connection reuses it.
_HELD = "fxticker_held_connection"


@contextmanager
def _pooled() -> Iterator[psycopg.Connection]:
    pool: psycopg_pool.ConnectionPool = current_app.extensions["fxticker_pool"]
    try:
        with pool.connection(timeout=POOL_TIMEOUT) as conn:
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


def _handle_error(exc: Exception) -> Response | tuple[Response | str, int]:
    if isinstance(exc, ApiError):
        status, message = exc.status, exc.message
    elif isinstance(exc, HTTPException):
        status, message = exc.code or 500, exc.description or exc.name
        if status == 404:
            message = "no such endpoint"
        elif status == 405:
            message = f"method {request.method} is not allowed here"
    else:
        log.exception("unhandled error on %s", request.path)
        status, message = 500, "internal error"
    if request.blueprint == "dashboard":
        from fxticker.web.dashboard import error_page

        return error_page(status, message)
    response = jsonify({"status": status, "message": message})
    response.status_code = status
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)  # RFC 9110 requires it on a 405
    return response
