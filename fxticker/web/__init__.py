"""The Flask application: create_app wires the settings, the database pool (web/db.py), the blueprints and
one error handler."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.wrappers import Response

from fxticker import settings
from fxticker.rates import lineup

# By name: the package's attribute `db` is its submodule fxticker.web.pool, not fxticker.storage.cluster.
from fxticker.storage.cluster import read_url
from fxticker.web import (
    api_v1,
    api_v2,
    cache,
    dashboard,
    downloads,
    feed,
    headers,
    health,
    metrics,
    native,
    openapi,
    quality,
)
from fxticker.web import pool as web_db
from fxticker.web.errors import ApiError, error_body

log = logging.getLogger(__name__)


def create_app(config: Mapping[str, Any] | None = None, *, conf: settings.Settings | None = None) -> Flask:
    """Build the app. The pool is created here, not at import; it connects in the background.

    conf: the settings the caller read and checked (default: read from the environment now). Keys of
    config override what the app derives from them (DATABASE_READ_URL, POOL_SIZE, HEALTH_MAX_AGE).
    """
    conf = conf or settings.load()
    app = Flask(__name__)
    app.config.update(config or {})
    app.extensions["fxticker_settings"] = conf
    app.extensions["fxticker_providers"] = lineup.standard()
    if "DATABASE_READ_URL" not in app.config:
        app.config["DATABASE_READ_URL"] = read_url(conf)
    web_db.init_app(app, app.config["DATABASE_READ_URL"], int(app.config.get("POOL_SIZE", conf.pool_size)))
    cache.init_app(app)
    app.config.setdefault("HEALTH_MAX_AGE", conf.scrape_max_age)
    metrics.init_app(app, web_db.pool(app), conf.prometheus_multiproc_dir)
    for blueprint in (health.bp, native.bp, api_v1.bp, api_v2.bp, openapi.bp, dashboard.bp, downloads.bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(quality.bp)
    app.register_blueprint(feed.bp)
    headers.install(app)
    app.register_error_handler(Exception, _handle_error)
    return app


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
        return dashboard.error_page(status, message)
    response = jsonify(error_body(status, message))
    response.status_code = status
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)  # RFC 9110 requires it on a 405
    return response
