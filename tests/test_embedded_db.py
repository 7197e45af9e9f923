"""The embedded cluster as a user drives it: fxticker db start | status | url | stop, and migrate."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from fxticker import settings
from fxticker.storage import cluster as db
from fxticker.storage import observations as store

pytestmark = pytest.mark.slow


@pytest.fixture
def data_env() -> Iterator[dict[str, str]]:
    root = Path(tempfile.mkdtemp(prefix="fxt-embed-"))
    root.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DATABASE_READ_URL")}
    env["FXTICKER_DATA_DIR"] = str(root / "data")
    yield env
    db.EmbeddedCluster.from_settings(settings.load(env)).destroy()
    shutil.rmtree(root, ignore_errors=True)  # destroy() removes the data directory, not the one made here


def fx(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fxticker", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def test_start_status_url_migrate_stop(data_env: dict[str, str]) -> None:
    assert fx(data_env, "db", "status").returncode == 1
    started = fx(data_env, "db", "start")
    assert started.returncode == 0, started.stderr
    assert fx(data_env, "db", "status").stdout.startswith("running:")
    url = fx(data_env, "db", "url").stdout.strip()
    socket_dir = Path(data_env["FXTICKER_DATA_DIR"]) / "run"
    assert (socket_dir / ".s.PGSQL.5432").exists()
    # psql accepts the URL as printed
    psql = subprocess.run(["psql", url, "-Atc", "SELECT current_setting('shared_preload_libraries')"],
                          capture_output=True, text=True, timeout=30)
    assert psql.stdout.strip() == "timescaledb"
    assert fx(data_env, "migrate").returncode == 0
    with psycopg.connect(url) as conn:
        # Every migration file, however many there are.
        applied = conn.execute("SELECT count(*) FROM schema_migration").fetchone()
        assert applied == (len(store.migration_files()),)
    assert fx(data_env, "db", "stop").returncode == 0
    assert fx(data_env, "db", "status").stdout.startswith("stopped:")


def test_commands_start_the_database_when_needed(data_env: dict[str, str]) -> None:
    result = fx(data_env, "sample")
    assert result.returncode == 0, result.stderr
    assert "observation(s) new" in result.stderr
    assert fx(data_env, "db", "status").returncode == 0
    again = fx(data_env, "sample")
    assert "already holds observations" in again.stderr


def test_the_web_tier_reads_the_embedded_cluster_as_a_login_that_cannot_write(
        data_env: dict[str, str]) -> None:
    assert fx(data_env, "migrate").returncode == 0
    url = db.read_url(settings.load(data_env), start=False)
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT session_user, rolsuper FROM pg_roles WHERE rolname = session_user"
                            ).fetchone() == (db.WEB_USER, False)
        conn.execute("SET ROLE fxticker_reader")
        assert conn.execute("SELECT count(*) FROM observation").fetchone() == (0,)
        # What an injected statement could try: leave the reader role, and write as the login.
        conn.execute("RESET ROLE")
        for statement in ("INSERT INTO scrape_run (started_at) VALUES (now())", "DELETE FROM observation",
                          "CREATE TABLE planted (x int)", "CREATE TEMPORARY TABLE planted (x int)",
                          f"SET ROLE {db.DB_USER}"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def test_the_server_listens_on_no_tcp_port(data_env: dict[str, str]) -> None:
    assert fx(data_env, "db", "start").returncode == 0
    url = fx(data_env, "db", "url").stdout.strip()
    with psycopg.connect(url) as conn:
        assert conn.execute("SHOW listen_addresses").fetchone() == ("",)


def test_only_the_servers_own_account_may_reach_its_trusting_socket(data_env: dict[str, str]) -> None:
    assert fx(data_env, "db", "start").returncode == 0
    cluster = db.EmbeddedCluster.from_settings(settings.load(data_env))
    socket_file = cluster.socket_dir / f".s.PGSQL.{db.PORT}"
    assert socket_file.stat().st_mode & 0o777 == 0o700
    with psycopg.connect(cluster.url()) as conn:
        assert conn.execute("SHOW unix_socket_permissions").fetchone() == ("0700",)
    if os.geteuid() == 0:
        # As another local account, the trusted superuser connection is refused at the socket.
        psql = str(db._pg_bindir() / "psql")
        other = subprocess.run(["runuser", "-u", "nobody", "--", psql, "-X", "-d", cluster.url(), "-c",
                                "SELECT 1"], capture_output=True, text=True, timeout=60, cwd="/")
        assert other.returncode != 0
        assert "Permission denied" in other.stderr


def test_server_without_timescaledb_loaded_stops_migrate_with_advice(empty_db_url: str,
                                                                     tmp_path: Path) -> None:
    root = Path(tempfile.mkdtemp(prefix="fxt-plain-"))
    root.chmod(0o755)
    plain = db.EmbeddedCluster(root / "db", db._pg_bindir())
    plain.init()
    conf = plain.pgdata / "postgresql.auto.conf"
    conf.write_text(conf.read_text().replace("shared_preload_libraries = 'timescaledb'", ""))
    try:
        plain.start()
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_READ_URL"}
        env["DATABASE_URL"] = plain.url()
        result = fx(env, "migrate")
        assert result.returncode == 1
        assert "shared_preload_libraries" in result.stderr
        assert "Traceback" not in result.stderr
        with psycopg.connect(plain.url()) as conn:
            assert conn.execute("SELECT to_regclass('observation')").fetchone() == (None,)
    finally:
        plain.destroy()


def test_the_server_log_is_readable_by_its_account_only(data_env: dict[str, str]) -> None:
    cluster = db.EmbeddedCluster.from_settings(settings.load(data_env))
    cluster.root.mkdir(parents=True)
    cluster.logfile.write_text("")
    cluster.logfile.chmod(0o644)  # as earlier versions left it
    assert fx(data_env, "db", "start").returncode == 0
    info = cluster.logfile.stat()
    assert info.st_mode & 0o777 == 0o600
    assert info.st_size > 0  # the server writes to it
    assert cluster.socket_dir.stat().st_mode & 0o777 == 0o700
