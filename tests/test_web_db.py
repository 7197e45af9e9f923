"""The web tier's pool (fxticker/web/db.py): it survives a database restart and closes with the app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from flask import Flask

from fxticker import db
from fxticker.web import create_app
from fxticker.web import db as web_db
from tests.fix_scrape import fresh, own_cluster
from tests.fix_wait import wait_for

POOL_SIZE = 4


@pytest.fixture(scope="module")
def restart_cluster() -> Iterator[db.EmbeddedCluster]:
    yield from own_cluster()


def fill_pool(app_pool: object, size: int) -> None:
    """Make the pool hold `size` open connections, as it does after a busy moment."""
    assert isinstance(app_pool, web_db.psycopg_pool.ConnectionPool)
    app_pool.wait(timeout=10)
    taken = [app_pool.getconn(timeout=10) for _ in range(size)]
    for conn in taken:
        app_pool.putconn(conn)
    assert app_pool.get_stats()["pool_available"] == size


def test_the_first_requests_after_a_database_restart_all_answer(
    restart_cluster: db.EmbeddedCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = fresh(restart_cluster)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("DATABASE_READ_URL", raising=False)
    monkeypatch.setenv("FXTICKER_DATA_DIR", str(tmp_path / "unused-embedded"))
    app = create_app({"TESTING": True, "DATABASE_READ_URL": url, "POOL_SIZE": POOL_SIZE})
    try:
        fill_pool(web_db.pool(app), POOL_SIZE)
        # Every pooled connection now points at a server process that is gone.
        restart_cluster.stop()
        restart_cluster.start()
        client = app.test_client()
        answers = [(path, client.get(path).status_code)
                   for path in ["/healthz", "/v2/currencies"] * POOL_SIZE]
        assert answers == [(path, 200) for path, _ in answers]
    finally:
        web_db.close(app)


def test_closing_the_app_ends_its_database_sessions(
    restart_cluster: db.EmbeddedCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = fresh(restart_cluster)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("FXTICKER_DATA_DIR", str(tmp_path / "unused-embedded"))
    app = create_app({"TESTING": True, "DATABASE_READ_URL": url, "POOL_SIZE": 2})
    fill_pool(web_db.pool(app), 2)

    def sessions() -> int:
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                               (web_db.APPLICATION_NAME,)).fetchone()
        assert row is not None
        return int(row[0])

    assert sessions() == 2
    web_db.close(app)
    # A backend leaves pg_stat_activity a moment after its client said goodbye.
    wait_for("the web sessions to end", lambda: sessions() == 0)


def test_a_web_connection_that_resets_its_role_still_cannot_write(app: Flask) -> None:
    with app.test_request_context("/"), web_db.read_connection() as conn:
        assert conn.execute(
            "SELECT session_user, current_user, rolsuper FROM pg_roles WHERE rolname = session_user"
        ).fetchone() == (db.WEB_USER, "fxticker_reader", False)
        conn.execute("RESET ROLE")
        conn.execute("SET default_transaction_read_only = off")
        for statement in ("INSERT INTO scrape_run (started_at) VALUES (now())", "DELETE FROM observation",
                          "CREATE TABLE planted (x int)", f"SET ROLE {db.DB_USER}"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
