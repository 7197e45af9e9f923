"""Health: whether the database answers and how fresh the newest observation is."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, jsonify
from werkzeug.wrappers import Response

from fxticker import store
from fxticker.web import read_connection
from fxticker.web.errors import Unavailable

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    try:
        with read_connection() as conn:
            count = store.observation_count(conn)
            newest = store.last_seen(conn)
    except Unavailable as exc:
        return jsonify({"status": "down", "database": "unreachable", "message": exc.message}), 503
    age = (dt.datetime.now(dt.UTC) - newest).total_seconds() if newest else None
    return jsonify({
        "status": "ok",
        "database": "ok",
        "observations": count,
        "last_seen": newest.isoformat() if newest else None,
        "last_seen_age_seconds": round(age) if age is not None else None,
    }), 200
