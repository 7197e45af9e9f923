"""The web tier's pool (fxticker/web/db.py): it survives a database restart and closes with the app."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from flask import Flask

from fxticker.storage import cluster as db
from fxticker.web import create_app
from fxticker.web import pool as web_db
from tests.fix_db import web_login
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


def restart(cluster: db.EmbeddedCluster, _url: str) -> None:
    """Every pooled connection then points at a server process that is gone."""
    cluster.stop()
    cluster.start()


def terminate(_cluster: db.EmbeddedCluster, url: str) -> None:
    """The server ends every session of the web tier, as pg_terminate_backend or an idle timeout does."""
    with psycopg.connect(url, autocommit=True) as admin:
        ended = admin.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s", (web_db.APPLICATION_NAME,)).fetchone()
    assert ended == (POOL_SIZE,)


@pytest.mark.timing
@pytest.mark.slow
@pytest.mark.parametrize("break_connections", [restart, terminate])
def test_the_first_requests_after_the_pools_connections_broke_all_answer(
    restart_cluster: db.EmbeddedCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    break_connections: Callable[[db.EmbeddedCluster, str], None],
) -> None:
    app = own_app(restart_cluster, tmp_path, monkeypatch)
    try:
        fill_pool(web_db.pool(app), POOL_SIZE)
        break_connections(restart_cluster, app.config["DATABASE_READ_URL"])
        # Two requests per pooled connection: health (not cached) and a cached API answer.
        client = app.test_client()
        paths = ["/healthz", "/v2/currencies"] * POOL_SIZE
        assert [(path, client.get(path).status_code) for path in paths] == [(path, 200) for path in paths]
    finally:
        web_db.close(app)


def test_a_cached_answer_sends_nothing_and_without_the_watch_one_statement(
    restart_cluster: db.EmbeddedCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the watch vouches for the data version, a cached answer sends the database nothing; with the
    watch stopped, it sends the data version's query and nothing more: no ping before it."""
    app = own_app(restart_cluster, tmp_path, monkeypatch, pool_size=1)
    client = app.test_client()
    app_pool = web_db.pool(app)
    watch = web_db.watch(app)

    def statements_of_three_answers(trace: Path) -> list[list[str]]:
        with trace.open("w") as sink:
            conn = app_pool.getconn(timeout=10)
            conn.pgconn.trace(sink.fileno())
            conn.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
            app_pool.putconn(conn)
            assert [client.get("/v2/currencies").status_code for _ in range(3)] == [200, 200, 200]
            conn = app_pool.getconn(timeout=10)
            conn.pgconn.untrace()
            app_pool.putconn(conn)
        # libpq's trace: a line per protocol message, "F" for those the client sent, then length and type.
        sent = [line.split("\t")[2:] for line in trace.read_text().splitlines() if line.startswith("F\t")]
        return [fields for fields in sent if fields[0] in ("Query", "Bind")]

    try:
        wait_for("the watch to vouch for a version", lambda: watch.version() is not None)
        assert client.get("/v2/currencies").status_code == 200  # now kept by the response cache
        assert statements_of_three_answers(tmp_path / "watched.trace") == []
        watch.stop()
        assert watch.version() is None
        statements = statements_of_three_answers(tmp_path / "unwatched.trace")
    finally:
        web_db.close(app)
    assert len(statements) == 3, statements
    assert ["Query", ' ""'] not in statements


def test_closing_the_app_ends_its_database_sessions(
    restart_cluster: db.EmbeddedCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = own_app(restart_cluster, tmp_path, monkeypatch, pool_size=2)
    url = app.config["DATABASE_READ_URL"]
    fill_pool(web_db.pool(app), 2)

    def sessions() -> int:
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = ANY(%s)",
                               ([web_db.APPLICATION_NAME, web_db.WATCH_APPLICATION_NAME],)).fetchone()
        assert row is not None
        return int(row[0])

    # The two pooled connections and the watch's.
    wait_for("the watch to connect", lambda: sessions() == 3)
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


@pytest.mark.parametrize(("login", "warned"), [("superuser", True), ("web", False)])
def test_a_superuser_login_is_warned_about_and_the_web_login_is_not(
        env: dict[str, str], db_url: str, caplog: pytest.LogCaptureFixture, login: str, warned: bool) -> None:
    caplog.set_level("WARNING", logger=web_db.__name__)
    url = db_url if login == "superuser" else web_login(db_url)
    app = create_app({"TESTING": True, "DATABASE_READ_URL": url})
    try:
        with app.test_request_context("/"), web_db.read_connection() as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("fxticker_reader",)
    finally:
        web_db.close(app)
    assert any("as a superuser" in r.getMessage() for r in caplog.records) is warned
