"""/healthz: the database, the age of the last successful scrape, and ok / degraded / down; /livez."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
from flask.testing import FlaskClient

from fxticker.web import create_app
from fxticker.web import pool as web_db
from tests.fix_ops import add_scrape_run


def test_no_scrape_recorded_is_degraded_but_serving(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json
    assert body is not None
    assert (body["status"], body["message"], body["database"]) == (
        "degraded", "no successful scrape recorded", "ok")
    assert body["last_scrape_success"] is None and body["last_scrape_success_age_seconds"] is None


def test_recent_successful_scrape_is_ok_even_after_a_failed_one(
    client: FlaskClient, conn: psycopg.Connection
) -> None:
    now = dt.datetime.now(dt.UTC)
    add_scrape_run(conn, "ok", now - dt.timedelta(minutes=10))
    add_scrape_run(conn, "failed", now - dt.timedelta(minutes=1))
    add_scrape_run(conn, "running", None)
    body = client.get("/healthz").json
    assert body is not None
    assert body["status"] == "ok"
    assert 595 <= body["last_scrape_success_age_seconds"] <= 660
    assert dt.datetime.fromisoformat(body["last_scrape_success"]) == now - dt.timedelta(minutes=10)


def test_stale_scrape_is_degraded_with_the_limit_named(
    env: dict[str, str], db_url: str, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FXTICKER_HEALTH_MAX_AGE", "600")
    add_scrape_run(conn, "ok", dt.datetime.now(dt.UTC) - dt.timedelta(minutes=11))
    app = create_app({"TESTING": True, "DATABASE_READ_URL": db_url})
    try:
        response = app.test_client().get("/healthz")
    finally:
        web_db.close(app)
    assert response.status_code == 200
    body = response.json
    assert body is not None
    assert (body["status"], body["message"], body["max_scrape_age_seconds"]) == (
        "degraded", "the last successful scrape is older than 600 s", 600)


def test_default_limit_is_three_scrape_intervals(
    env: dict[str, str], db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FXTICKER_INTERVAL", "120")
    monkeypatch.delenv("FXTICKER_HEALTH_MAX_AGE", raising=False)
    app = create_app({"TESTING": True, "DATABASE_READ_URL": db_url})
    try:
        body = app.test_client().get("/healthz").json
    finally:
        web_db.close(app)
    assert body is not None and body["max_scrape_age_seconds"] == 360


def test_unmigrated_database_is_down_and_says_so(empty_db_url: str) -> None:
    bare = create_app({"TESTING": True, "DATABASE_READ_URL": empty_db_url})
    try:
        response = bare.test_client().get("/healthz")
    finally:
        web_db.close(bare)
    assert response.status_code == 503
    assert response.json == {"status": "down", "database": "not migrated",
                             "message": "the database has no fxticker schema; run 'fxticker migrate'"}


def test_livez_answers_at_once_with_the_database_unreachable() -> None:
    """Liveness: the process answers without waiting on the database (which /healthz reports as down)."""
    app = create_app({"TESTING": True, "DATABASE_READ_URL": "postgresql://x@127.0.0.1:1/none"})
    try:
        response = app.test_client().get("/livez")
        asked = web_db.pool(app).get_stats().get("requests_num", 0)
    finally:
        web_db.close(app)
    assert (response.status_code, response.json) == (200, {"status": "alive"})
    assert asked == 0, "a liveness probe must not wait for a database connection"
