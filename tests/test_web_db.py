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


def own_app(cluster: db.EmbeddedCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
            pool_size: int = POOL_SIZE) -> Flask:
    """An app reading a new database of cluster, with pool_size pooled connections at most."""
    url = fresh(cluster)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("DATABASE_READ_URL", raising=False)
    monkeypatch.setenv("FXTICKER_DATA_DIR", str(tmp_path / "unused-embedded"))
    return create_app({"TESTING": True, "DATABASE_READ_URL": url, "POOL_SIZE": pool_size})


def first_answers(app: Flask) -> list[tuple[str, int]]:
    """The statuses of the app's next requests, two per pooled connection (health and a cached API)."""
    client = app.test_client()
    return [(path, client.get(path).status_code) for path in ["/healthz", "/v2/currencies"] * POOL_SIZE]


def test_the_first_requests_after_a_database_restart_all_answer(
    restart_cluster: db.EmbeddedCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = own_app(restart_cluster, tmp_path, monkeypatch)
    try:
        fill_pool(web_db.pool(app), POOL_SIZE)
        # Every pooled connection now points at a server process that is gone.
        restart_cluster.stop()
        restart_cluster.start()
        answers = first_answers(app)
        assert answers == [(path, 200) for path, _ in answers]
    finally:
        web_db.close(app)


def test_connections_the_server_ended_are_replaced_before_a_request_uses_them(
    restart_cluster: db.EmbeddedCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = own_app(restart_cluster, tmp_path, monkeypatch)
    try:
        fill_pool(web_db.pool(app), POOL_SIZE)
        with psycopg.connect(app.config["DATABASE_READ_URL"], autocommit=True) as admin:
            ended = admin.execute(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = %s", (web_db.APPLICATION_NAME,)).fetchone()
        assert ended == (POOL_SIZE,)
        answers = first_answers(app)
        assert answers == [(path, 200) for path, _ in answers]
    finally:
        web_db.close(app)


def test_a_request_on_a_healthy_pooled_connection_sends_one_statement(
    restart_cluster: db.EmbeddedCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cached answer costs the data version's query and nothing more: no ping before it."""
    app = own_app(restart_cluster, tmp_path, monkeypatch, pool_size=1)
    client = app.test_client()
    app_pool = web_db.pool(app)
    trace = tmp_path / "libpq.trace"
    try:
        assert client.get("/v2/currencies").status_code == 200  # now kept by the response cache
        with trace.open("w") as sink:
            conn = app_pool.getconn(timeout=10)
            conn.pgconn.trace(sink.fileno())
            conn.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
            app_pool.putconn(conn)
            answers = [client.get("/v2/currencies").status_code for _ in range(3)]
            conn = app_pool.getconn(timeout=10)
            conn.pgconn.untrace()
            app_pool.putconn(conn)
    finally:
        web_db.close(app)
    assert answers == [200, 200, 200]
    # libpq's trace: one line per protocol message, "F" for those the client sent, then length and type.
    sent = [line.split("\t")[2:] for line in trace.read_text().splitlines() if line.startswith("F\t")]
    statements = [fields for fields in sent if fields[0] in ("Query", "Bind")]
    assert len(statements) == 3, sent
    assert ["Query", ' ""'] not in statements


def test_closing_the_app_ends_its_database_sessions(
    restart_cluster: db.EmbeddedCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = own_app(restart_cluster, tmp_path, monkeypatch, pool_size=2)
    url = app.config["DATABASE_READ_URL"]
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
