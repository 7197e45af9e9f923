"""Past one machine: the web tier reads as a SELECT-only role, and from a streaming replica when told to.

The replica test is real: a primary and a hot standby made with pg_basebackup, both on unix sockets under
/tmp; quotes ingested on the primary are served by the API from the standby.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from fxticker.collect.ingest import ingest_many
from fxticker.storage import cluster
from fxticker.storage import observations as store
from fxticker.web import create_app
from fxticker.web import pool as web_db
from tests.fix_wait import wait_for
from tests.pages import text_page

pytestmark = pytest.mark.slow


def test_web_pool_acts_as_the_reader_and_cannot_write(env: dict[str, str], db_url: str) -> None:
    app = create_app({"TESTING": True, "DATABASE_READ_URL": db_url})
    pool = web_db.pool(app)
    try:
        with pool.connection() as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("fxticker_reader",)
            assert conn.execute("SELECT count(*) FROM daily_series").fetchone() == (0,)
            # Read-only twice over: the session's transactions, and, with that lifted, the role itself.
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute("INSERT INTO scrape_run (started_at) VALUES (now())")
            conn.execute("SET default_transaction_read_only = off")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("INSERT INTO scrape_run (started_at) VALUES (now())")
    finally:
        web_db.close(app)


def test_a_login_outside_the_reader_role_gets_no_connection(
    conn: psycopg.Connection, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    conn.execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fxt_outsider') THEN"
                 " CREATE ROLE fxt_outsider LOGIN; END IF; END $$")
    outsider_url = db_url.replace(f"{cluster.DB_USER}@", "fxt_outsider@")
    with psycopg.connect(outsider_url) as outsider, pytest.raises(psycopg.errors.InsufficientPrivilege):
        web_db.as_reader(outsider)
    assert "grant fxticker_reader to the read URL's user" in caplog.text


def test_reader_role_has_select_and_nothing_else(conn: psycopg.Connection) -> None:
    rows = conn.execute(
        "SELECT DISTINCT privilege_type FROM information_schema.role_table_grants"
        " WHERE grantee = 'fxticker_reader' AND table_schema = 'public'"
    ).fetchall()
    assert rows == [("SELECT",)]
    readable = {r[0] for r in conn.execute(
        "SELECT table_name FROM information_schema.role_table_grants WHERE grantee = 'fxticker_reader'"
    )}
    assert {"observation", "daily_rate", "daily_series", "scrape_run", "scrape_source_run"} <= readable
    assert conn.execute(
        "SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = 'fxticker_reader'"
    ).fetchone() == (False, False)


def test_migrating_a_second_database_reuses_the_cluster_wide_role(empty_db_url: str) -> None:
    with psycopg.connect(empty_db_url) as conn:
        applied = store.migrate(conn)
        assert "003_reader_daily_series.sql" in applied
        assert conn.execute(
            "SELECT has_table_privilege('fxticker_reader', 'observation', 'SELECT'),"
            " has_table_privilege('fxticker_reader', 'observation', 'INSERT')"
        ).fetchone() == (True, False)


def _lsn(url: str, query: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return str(row[0])


@pytest.fixture
def primary_and_replica() -> Iterator[tuple[cluster.EmbeddedCluster, cluster.EmbeddedCluster]]:
    # /tmp with mode 0755: as root the servers run as 'postgres', which must reach their directories.
    root = Path(tempfile.mkdtemp(prefix="fxt-repl-"))
    root.chmod(0o755)
    bindir = cluster._pg_bindir()
    primary = cluster.EmbeddedCluster(root / "primary", bindir)
    replica = cluster.EmbeddedCluster(root / "replica", bindir)
    try:
        # initdb's pg_hba trusts local replication connections and wal_level defaults to replica;
        # both are checked so that a changed default fails here with a clear message.
        primary.start()
        with psycopg.connect(primary.url(), autocommit=True) as conn:
            assert conn.execute("SHOW wal_level").fetchone() == ("replica",)
            store.migrate(conn)
        hba = (primary.pgdata / "pg_hba.conf").read_text()
        assert any(line.split()[:3] == ["local", "replication", "all"] for line in hba.splitlines()
                   if line.strip() and not line.startswith("#"))
        replica._own(replica.root, replica.socket_dir)
        primary._run("pg_basebackup", "-h", str(primary.socket_dir), "-p", str(cluster.PORT),
                     "-U", cluster.DB_USER,
                     "-D", str(replica.pgdata), "-R", "-X", "stream", "--checkpoint=fast", "--no-sync")
        # The copy carries the primary's settings; the standby needs its own socket directory.
        with (replica.pgdata / "postgresql.auto.conf").open("a") as conf:
            conf.write(f"unix_socket_directories = '{replica.socket_dir}'\nhot_standby = on\n")
        replica.start()
        yield primary, replica
    finally:
        replica.stop("immediate")
        primary.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


def test_api_serves_from_the_replica_what_was_ingested_on_the_primary(
    primary_and_replica: tuple[cluster.EmbeddedCluster, cluster.EmbeddedCluster],
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="fxticker.web.version_watch")
    primary, replica = primary_and_replica
    monkeypatch.setenv("DATABASE_URL", primary.url())
    monkeypatch.setenv("DATABASE_READ_URL", replica.url())
    app = create_app({"TESTING": True})  # the URLs come from the environment, as in production
    try:
        client = app.test_client()
        assert client.get("/api/observations?from=2025-12-01").json == []
        (tmp_path / "page.txt").write_text(text_page(date="19 December 2025"))
        summary = ingest_many([str(tmp_path / "page.txt")], None)
        assert (summary.pages, summary.new) == (1, 5)
        target = _lsn(primary.url(), "SELECT pg_current_wal_lsn()")
        deadline = time.monotonic() + 10
        while _lsn(replica.url(), f"SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '{target}') >= 0") \
                != "True":
            assert time.monotonic() < deadline, "the replica did not replay the primary's WAL in 10 s"
            time.sleep(0.05)
        body = client.get("/api/observations?from=2025-12-01&currency=KZT,UZS").json
        assert [(r["currency"], r["rate"], r["date"]) for r in body] == [
            ("KZT", "0.00193", "2025-12-19"), ("UZS", "0.00008", "2025-12-19")]
        with web_db.pool(app).connection() as conn:
            assert conn.execute("SELECT pg_is_in_recovery(), current_user").fetchone() == (
                True, "fxticker_reader")
        # A standby refuses LISTEN: the watch steps aside, and every request reads the version itself.
        wait_for("the watch to step aside",
                 lambda: any("is a standby" in r.getMessage() for r in caplog.records))
        assert web_db.watch(app).version() is None
    finally:
        web_db.close(app)
    with psycopg.connect(replica.url()) as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute("INSERT INTO scrape_run (started_at) VALUES (now())")
