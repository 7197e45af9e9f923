"""/metrics counts official fetches by provider and outcome; /healthz says which provider is stale."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import psycopg
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from fxticker import vocab
from fxticker.official import rate_store
from fxticker.official.answers import OfficialRate

NOW = dt.datetime.now(dt.UTC)


def record(conn: psycopg.Connection, outcomes: list[tuple[str, str]]) -> None:
    run_id = rate_store.start_run(conn, started_at=NOW, trigger="schedule", host="test/1", since=NOW.date(),
                             until=NOW.date())
    for key, status in outcomes:
        rate_store.record_provider(conn, run_id, rate_store.ProviderOutcome(
            key, NOW, NOW, status, 1, rate_store.Saved(), 0, None if status == "ok" else "down"))
    rate_store.finish_run(conn, run_id, finished_at=NOW, status="ok", error=None)


def test_metrics_count_fetches_by_provider_and_outcome(client: FlaskClient, conn: psycopg.Connection) -> None:
    record(conn, [("nbk", "ok"), ("cbu", "failed")])
    record(conn, [("nbk", "ok"), ("cbu", "ok")])
    text = client.get("/metrics").get_data(as_text=True)
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    fetches = {labels: value for (name, labels), value in samples.items()
               if name == "fxticker_official_fetches_total"}
    assert fetches[(("provider", "nbk"), ("status", "ok"))] == 2
    assert fetches[(("provider", "cbu"), ("status", "ok"))] == 1
    assert fetches[(("provider", "cbu"), ("status", "failed"))] == 1
    assert fetches[(("provider", "nbt"), ("status", "failed"))] == 0  # every provider, even unfetched
    assert len(fetches) == 10
    last = samples[("fxticker_official_last_success_timestamp_seconds", (("provider", "nbk"),))]
    assert abs(last - NOW.timestamp()) < 1


def test_healthz_says_which_provider_is_stale(client: FlaskClient, conn: psycopg.Connection) -> None:
    # A bank's rate is as old as the site's calendar says (the banks date their rates by it), not UTC's.
    today = vocab.site_today(client.application.extensions["fxticker_settings"].timezone, NOW)
    rate_store.save_rates(conn, [
        OfficialRate("nbk", "KZT", today - dt.timedelta(days=1), Decimal("478.77"), "478.77", 1),
        OfficialRate("cbu", "UZS", today - dt.timedelta(days=7), Decimal("12194.21"), "12194.21", 1),
        OfficialRate("nbt", "TJS", today - dt.timedelta(days=8), Decimal("9.345"), "9.345", 1),
    ], source="test", fetched_at=NOW)
    record(conn, [("nbk", "ok")])
    body = client.get("/healthz").json
    assert body["official_stale"] == ["nbkr", "nbt", "peg"]
    assert body["official"]["nbk"] == {"latest_rate_date": (today - dt.timedelta(days=1)).isoformat(),
                                       "last_fetch_success": NOW.isoformat(), "stale": False}
    assert body["official"]["cbu"]["stale"] is False  # 7 days: still within the check's reach
    assert body["official"]["nbkr"] == {"latest_rate_date": None, "last_fetch_success": None, "stale": True}
    # The ticker's own state decides the status; a stale bank only says so.
    assert body["status"] == "degraded" and body["message"] == "no successful scrape recorded"


def test_the_grafana_panel_shows_each_days_deviation(conn: psycopg.Connection) -> None:
    from tests.grafana import DASHBOARDS, expand, panels

    board = next(json.loads(p.read_text()) for p in DASHBOARDS if p.name == "rates.json")
    [panel] = [p for p in panels(board) if p["title"] == "Deviation from the official rate %"]
    for day, rate in ((dt.date(2025, 12, 8), "0.00209"), (dt.date(2025, 12, 9), "0.00190")):
        conn.execute(
            "INSERT INTO observation (rate_date, currency, rate, change_pct, direction, first_seen,"
            " last_seen, first_source, last_source, first_hash, last_hash)"
            " VALUES (%s, 'KZT', %s::numeric, 0, 'flat', now(), now(), 's', 's', 'h', 'h')", (day, rate))
    rate = OfficialRate("nbk", "KZT", dt.date(2025, 12, 8), Decimal("478.77"), "478.77", 1)
    rate_store.save_rates(conn, [rate], source="test", fetched_at=NOW)
    conn.execute("SET ROLE fxticker_reader")
    sql = expand(panel["targets"][0]["rawSql"], interval=panel["interval"], variables={"currency": ["KZT"]})
    rows = conn.execute(sql.encode()).fetchall()
    # The 9th has no official rate of its own: the 8th's is its reference (within 7 days).
    assert [(str(day)[:10], metric, round(value, 3)) for day, metric, value in rows] == [
        ("2025-12-08", "KZT", Decimal("-0.063")), ("2025-12-09", "KZT", Decimal("9.931"))]
