"""The data version watch (fxticker/web/version_watch.py): a worker hears of a change from PostgreSQL's
notification, believes only the table, steps aside when it cannot vouch, and comes back.

These tests use a plain Flask test client, not the settled one the other API tests use: how soon a
change is heard is their subject.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from fxticker.storage import data_version
from fxticker.web import pool as web_db
from fxticker.web import version_watch
from fxticker.web.version_watch import VersionWatch
from tests.fix_api import DAY2_LATE, ingest_pages, ingest_sample_days
from tests.fix_wait import wait_for

NIGHT = [("KZT", "0.00195", "0.52") if code == "KZT" else (code, rate, change)
         for code, rate, change in DAY2_LATE]
LATE = dt.datetime(2025, 12, 19, 20, tzinfo=dt.UTC)


def table_version(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return data_version.current(conn)


@pytest.fixture
def watch(app: Flask) -> VersionWatch:
    found = web_db.watch(app)
    wait_for("the watch to vouch for a version", lambda: found.version() is not None)
    return found


@pytest.fixture
def plain(app: Flask, tmp_path: Path) -> Iterator[FlaskClient]:
    ingest_sample_days(tmp_path)
    yield FlaskClient(app)


def slow_heartbeat(watch: VersionWatch, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Heartbeats a minute apart from the watch's next read on, which a notification brings at once (a
    heartbeat due anyway may be timed by either length: the read after the cue is timed by the new)."""
    monkeypatch.setattr(version_watch, "HEARTBEAT", 60.0)
    monkeypatch.setattr(version_watch, "TRUST", 120.0)
    patched = time.monotonic()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"NOTIFY {version_watch.CHANNEL}")
    wait_for("a read after the heartbeat changed",
             lambda: (last := watch.last_read()) is not None and last[1] > patched)


def kzt(client: FlaskClient) -> float:
    response = client.get("/v2/rate/USD/KZT")
    assert response.status_code == 200
    rate: float = response.json["rate"]  # type: ignore[index]
    return rate


def test_a_change_is_heard_from_its_notification(
        plain: FlaskClient, watch: VersionWatch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the heartbeat a minute away, only the notification can tell the worker in time."""
    slow_heartbeat(watch, str(plain.application.config["DATABASE_READ_URL"]), monkeypatch)
    cache = plain.application.extensions["fxticker_response_cache"]
    assert kzt(plain) == 515.46
    hits = cache.stats().hits
    # Kept under the version the watch holds now: only a new version can change this answer.
    assert kzt(plain) == 515.46 and cache.stats().hits == hits + 1
    ingest_pages(tmp_path, [("19 December 2025", NIGHT, LATE)])
    wait_for("the new rate", lambda: kzt(plain) == 512.82, timeout=10)
    assert watch.version() == table_version(str(plain.application.config["DATABASE_READ_URL"]))


def test_a_change_nobody_announced_is_heard_within_trust(
        app: Flask, watch: VersionWatch, db_url: str) -> None:
    """A lost notification (here: the trigger switched off) costs a heartbeat at most, never past TRUST."""
    before = watch.version()
    assert before is not None
    with psycopg.connect(db_url, autocommit=True) as owner:
        owner.execute("ALTER TABLE data_version DISABLE TRIGGER data_version_announces")
        owner.execute("UPDATE data_version SET version = version + 1")
    # TRUST, and two seconds for a busy machine's scheduling.
    wait_for("the heartbeat to read the new version", lambda: watch.version() == before + 1,
             timeout=version_watch.TRUST + 2)


def test_a_forged_notification_moves_nothing(
        app: Flask, watch: VersionWatch, monkeypatch: pytest.MonkeyPatch) -> None:
    """Any login may notify any channel: the watch takes a notification as a cue to read the table."""
    url = str(app.config["DATABASE_READ_URL"])
    slow_heartbeat(watch, url, monkeypatch)
    sent = time.monotonic()
    with psycopg.connect(url, autocommit=True) as reader:  # the web tier's own login
        reader.execute("NOTIFY fxticker_data_version, '999999999'")
    wait_for("the watch to read the table on the cue",
             lambda: (last := watch.last_read()) is not None and last[1] > sent)
    assert watch.version() == table_version(url)


def test_with_the_watch_stopped_the_very_next_request_reads_the_version(
        plain: FlaskClient, watch: VersionWatch, tmp_path: Path) -> None:
    assert kzt(plain) == 515.46
    watch.stop()
    assert watch.version() is None
    ingest_pages(tmp_path, [("19 December 2025", NIGHT, LATE)])
    assert kzt(plain) == 512.82


def test_the_watch_comes_back_after_its_session_is_ended(
        plain: FlaskClient, watch: VersionWatch, db_url: str, tmp_path: Path) -> None:
    def watch_pid() -> int | None:
        with psycopg.connect(db_url, autocommit=True) as conn:
            row = conn.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                               (web_db.WATCH_APPLICATION_NAME,)).fetchone()
        return None if row is None else int(row[0])

    assert kzt(plain) == 515.46
    first = wait_for("the watch's session", watch_pid)
    with psycopg.connect(db_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (first,))
    # Changed while the watch is away: its notification reaches nobody.
    ingest_pages(tmp_path, [("19 December 2025", NIGHT, LATE)])
    wait_for("the new rate", lambda: kzt(plain) == 512.82, timeout=version_watch.TRUST + 3)
    wait_for("a new session of the watch", lambda: (pid := watch_pid()) is not None and pid != first)
    wait_for("the watch to vouch again", lambda: watch.version() == table_version(db_url))
