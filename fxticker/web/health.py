"""Health: whether the database answers, how fresh the data is, and ok / degraded / down for operators.

ok: the database answers and a scrape succeeded within FXTICKER_HEALTH_MAX_AGE. degraded: the data can
still be served but is getting stale (no successful scrape recorded, or the last one is too old), so the
answer stays 200 and a load balancer keeps the instance. down: the database is unreachable, 503.

/livez is the liveness probe beside that readiness probe: it says only that the process answers
requests, without touching the database, so an orchestrator restarts a hung worker but not every
instance at once when the database is down (that is /healthz's 503, which should take an instance out of
rotation, not restart it).
"""

from __future__ import annotations

import datetime as dt
import json

import psycopg
from flask import Blueprint, current_app, jsonify
from werkzeug.wrappers import Response

from fxticker import vocab
from fxticker.official import rate_store as official_store
from fxticker.storage import observations as store
from fxticker.storage import scrape_runs
from fxticker.web import official_view as official_web
from fxticker.web.errors import Unavailable
from fxticker.web.pool import read_connection

bp = Blueprint("health", __name__)



def _age(now: dt.datetime, then: dt.datetime | None) -> int | None:
    return max(0, round((now - then).total_seconds())) if then is not None else None


# The probe's answer never changes: encoded once, not per request (jsonify was a tenth of its cost).
_ALIVE = json.dumps({"status": "alive"}).encode() + b"\n"


@bp.get("/livez")
def livez() -> Response:
    return Response(_ALIVE, mimetype="application/json")


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    try:
        with read_connection() as conn:
            count = store.observation_count(conn)
            newest = store.last_seen(conn)
            scraped = scrape_runs.last_success(conn)
            official = official_web.freshness(official_store.latest_rates(conn),
                                              official_store.last_success(conn),
                                              vocab.site_today(current_app.extensions["fxticker_settings"].timezone))
    except Unavailable as exc:
        return jsonify({"status": "down", "database": "unreachable", "message": exc.message}), 503
    except psycopg.errors.UndefinedTable:
        return jsonify({"status": "down", "database": "not migrated",
                        "message": "the database has no fxticker schema; run 'fxticker migrate'"}), 503
    now = dt.datetime.now(dt.UTC)
    limit = int(current_app.config["HEALTH_MAX_AGE"])
    scrape_age = _age(now, scraped)
    if scrape_age is None:
        status, message = "degraded", "no successful scrape recorded"
    elif scrape_age > limit:
        status, message = "degraded", f"the last successful scrape is older than {limit} s"
    else:
        status, message = "ok", "serving fresh data"
    return jsonify({
        "status": status,
        "message": message,
        "database": "ok",
        "observations": count,
        "last_seen": newest.isoformat() if newest else None,
        "last_seen_age_seconds": _age(now, newest),
        "last_scrape_success": scraped.isoformat() if scraped else None,
        "last_scrape_success_age_seconds": scrape_age,
        "max_scrape_age_seconds": limit,
        # A stale provider leaves the status as it is (the ticker is served either way), and says so.
        "official": official,
        "official_stale": sorted(key for key, state in official.items() if state["stale"]),
    }), 200
