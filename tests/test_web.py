"""The web app's first endpoints: /healthz and /api/observations."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskClient

from fxticker.collect.ingest import ingest_many
from fxticker.web import create_app
from fxticker.web import pool as web_db
from tests.pages import text_page


def test_healthz_reports_database_and_freshness(client: FlaskClient, tmp_path: Path) -> None:
    empty = client.get("/healthz")
    assert empty.status_code == 200
    assert empty.json is not None
    # ok / degraded by scrape age is tested in tests/test_health.py.
    assert {k: empty.json[k] for k in ("database", "observations", "last_seen", "last_seen_age_seconds")} == {
        "database": "ok", "observations": 0, "last_seen": None, "last_seen_age_seconds": None}
    (tmp_path / "p.txt").write_text(text_page())
    ingest_many([str(tmp_path / "p.txt")], None)
    body = client.get("/healthz").json
    assert body is not None and body["observations"] == 5 and body["last_seen_age_seconds"] >= 0


@pytest.mark.slow
def test_healthz_is_503_when_the_database_is_unreachable() -> None:
    app = create_app({"TESTING": True, "DATABASE_READ_URL": "postgresql://x@127.0.0.1:1/none"})
    try:
        response = app.test_client().get("/healthz")
    finally:
        web_db.close(app)
    assert response.status_code == 503
    assert response.json == {"status": "down", "database": "unreachable",
                             "message": "the database is unavailable; try again shortly"}


def test_observations_show_the_quote_as_scraped(client: FlaskClient, tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text(text_page())
    ingest_many([str(tmp_path / "p.txt")], None)
    body = client.get("/api/observations?currency=UZS,KZT").json
    assert body is not None
    assert [(r["currency"], r["rate"], r["change_pct"], r["direction"]) for r in body] == [
        ("KZT", "0.00193", "-0", "down"),
        ("UZS", "0.00008", "0", "flat"),
    ]
    uzs = body[1]
    assert (uzs["usd_per_unit_low"], uzs["usd_per_unit_high"]) == ("0.000075", "0.000085")
    assert (uzs["units_per_usd_low"], uzs["units_per_usd_high"]) == ("11764.705", "13333.334")
    assert uzs["source"].endswith("p.txt") and uzs["revisions"] == 1


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2025-13-01", "'from' must be a date of the form YYYY-MM-DD"),
        ("from=2025-12-02&to=2025-12-01", "'from' is after 'to'"),
        ("currency=K<script>", "'currency' takes three-letter codes such as KZT, separated by commas"),
        ("revisions=some", "'revisions' must be 'latest' or 'all'"),
        ("colour=red", "unknown parameter: 'colour'"),
    ],
)
def test_bad_parameters_are_422_with_a_message(client: FlaskClient, query: str, message: str) -> None:
    response = client.get(f"/api/observations?{query}")
    assert response.status_code == 422
    assert response.json == {"status": 422, "message": message}


def test_unknown_path_and_method(client: FlaskClient) -> None:
    assert client.get("/api/nothing").json == {"status": 404, "message": "no such endpoint"}
    response = client.post("/api/observations")
    assert response.status_code == 405
