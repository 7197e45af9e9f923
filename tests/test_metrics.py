"""/metrics: request counts and durations by endpoint, and scrape and storage facts read from the database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from fxticker.web import create_app
from fxticker.web import pool as web_db
from tests.fix_ops import add_scrape_run, store_days
from tests.fix_wait import wait_for


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_scrape_runs_by_outcome_observations_and_last_success(
    client: FlaskClient, conn: psycopg.Connection, tmp_path: Path
) -> None:
    finished = dt.datetime(2025, 12, 19, 6, 30, tzinfo=dt.UTC)
    add_scrape_run(conn, "ok", finished - dt.timedelta(hours=1), [("https://a.test/", "ok", 5, 0, None)])
    add_scrape_run(conn, "ok", finished, [("https://a.test/", "not_modified", 0, 0, None),
                                          ("https://b.test/", "failed", 0, 0, "HTTP 500")])
    add_scrape_run(conn, "failed", finished + dt.timedelta(minutes=5))
    add_scrape_run(conn, "running", None)
    store_days(tmp_path, [dt.date(2025, 12, 18), dt.date(2025, 12, 19)])
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=")
    got = samples(response.get_data(as_text=True))
    assert got[("fxticker_database_up", ())] == 1
    assert {status: got[("fxticker_scrape_runs_total", (("status", status),))]
            for status in ("ok", "failed", "running")} == {"ok": 2, "failed": 1, "running": 1}
    assert {status: got[("fxticker_scrape_sources_total", (("status", status),))]
            for status in ("ok", "not_modified", "failed")} == {"ok": 1, "not_modified": 1, "failed": 1}
    assert got[("fxticker_last_scrape_success_timestamp_seconds", ())] == finished.timestamp()
    assert got[("fxticker_observations_stored", ())] == 10
    assert got[("fxticker_observation_sightings_total", ())] == 10


def test_requests_counted_and_timed_by_endpoint(client: FlaskClient) -> None:
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    assert client.get("/api/observations?colour=red").status_code == 422
    assert client.get("/no/such/page/1").status_code == 404
    assert client.get("/no/such/page/2").status_code == 404
    got = samples(client.get("/metrics").get_data(as_text=True))
    count = "fxticker_http_requests_total"
    assert got[(count, (("endpoint", "/healthz"), ("method", "GET"), ("status", "200")))] == 3
    assert got[(count, (("endpoint", "/api/observations"), ("method", "GET"), ("status", "422")))] == 1
    # Unknown paths share one label value, so clients cannot blow up the number of series.
    assert got[(count, (("endpoint", "other"), ("method", "GET"), ("status", "404")))] == 2
    healthz = (("endpoint", "/healthz"), ("method", "GET"))
    assert got[("fxticker_http_request_duration_seconds_count", healthz)] == 3
    assert got[("fxticker_http_request_duration_seconds_sum", healthz)] > 0
    # No scrape recorded yet: no last-success sample rather than a made-up zero.
    assert not any(name == "fxticker_last_scrape_success_timestamp_seconds" for name, _ in got)


def test_metrics_still_served_when_the_database_is_down() -> None:
    app = create_app({"TESTING": True, "DATABASE_READ_URL": "postgresql://x@127.0.0.1:1/none",
                      "METRICS_DB_TIMEOUT": 0.5})
    try:
        client = app.test_client()
        client.get("/nothing")
        response = client.get("/metrics")
    finally:
        web_db.close(app)
    assert response.status_code == 200
    got = samples(response.get_data(as_text=True))
    assert got[("fxticker_database_up", ())] == 0
    unmatched = (("endpoint", "other"), ("method", "GET"), ("status", "404"))
    assert got[("fxticker_http_requests_total", unmatched)] == 1


def series(client: FlaskClient) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    return {key for key in samples(client.get("/metrics").get_data(as_text=True))
            if key[0].startswith("fxticker_http_")}


def test_made_up_methods_and_paths_add_no_series(client: FlaskClient) -> None:
    """3,000 requests, each with a method and a path of its own, count under one label value, `other`."""
    assert client.open("/healthz", method="BREW").status_code == 405
    assert client.open("/made/up/0", method="WHEN").status_code == 404
    series(client)  # the first look at /metrics adds /metrics' own series
    before = series(client)
    for n in range(1, 3001):
        client.open(f"/made/up/{n}", method=f"M{n}")
    after = series(client)
    assert after == before
    got = samples(client.get("/metrics").get_data(as_text=True))
    made_up = (("endpoint", "other"), ("method", "other"), ("status", "404"))
    assert got[("fxticker_http_requests_total", made_up)] == 3001
    assert got[("fxticker_http_requests_total",
                (("endpoint", "other"), ("method", "other"), ("status", "405")))] == 1
    assert not [labels for _, labels in after
                if ("method", "M7") in labels or ("endpoint", "/made/up/7") in labels]


def test_the_workers_that_hear_of_changes_are_counted(client: FlaskClient) -> None:
    watch = web_db.watch(client.application)

    def watchers() -> float:
        return samples(client.get("/metrics").get_data(as_text=True))[("fxticker_data_version_watchers", ())]

    wait_for("the watch to listen", lambda: watchers() == 1)
    watch.stop()
    assert watchers() == 0
