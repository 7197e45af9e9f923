"""Database fixtures: one real PostgreSQL + TimescaleDB cluster per session (per worker under xdist), a
fresh database per test, cloned from a migrated template."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from fxticker.storage import cluster as db
from fxticker.storage import data_version, observations
from fxticker.web import create_app
from fxticker.web import pool as web_db
from fxticker.web.version_watch import TRUST

TEMPLATE = "fxt_template"
_counter = itertools.count()
# The session's cluster is thrown away at the end (and a server crash fails the run anyway): nothing in it
# needs to survive a power cut, and a fresh database per test is most of the suite's setup time.
THROWAWAY = {"fsync": "off", "full_page_writes": "off", "synchronous_commit": "off"}


@pytest.fixture(scope="session")
def cluster() -> Iterator[db.EmbeddedCluster]:
    """The session's own embedded cluster (each xdist worker starts its own, in its own directory, with its
    own socket and template). If it cannot start, every test that needs it errors."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    # Under /tmp with mode 0755: when we run as root the server runs as 'postgres' and must reach it.
    root = Path(tempfile.mkdtemp(prefix=f"fxt-test-{worker}-"))
    root.chmod(0o755)
    instance = db.EmbeddedCluster(root / "db", db._pg_bindir())
    instance.start()
    with psycopg.connect(instance.url("postgres"), autocommit=True) as conn:
        for name, value in THROWAWAY.items():
            conn.execute(f"ALTER SYSTEM SET {name} = {value}")
        conn.execute("SELECT pg_reload_conf()")
        conn.execute(f"CREATE DATABASE {TEMPLATE}")
    with psycopg.connect(instance.url(TEMPLATE)) as conn:
        observations.migrate(conn)
    with psycopg.connect(instance.url("postgres"), autocommit=True) as conn:
        # TimescaleDB's background workers connect to databases that allow it; a template must be idle.
        conn.execute(f"ALTER DATABASE {TEMPLATE} WITH ALLOW_CONNECTIONS false")
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (TEMPLATE,)
        )
    yield instance
    instance.stop("immediate")
    shutil.rmtree(root, ignore_errors=True)


def fresh_database(cluster: db.EmbeddedCluster, *, migrated: bool = True) -> str:
    name = f"t{os.getpid()}_{next(_counter)}"
    template = TEMPLATE if migrated else "template0"
    with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
        for attempt in range(50):
            try:
                # FILE_COPY copies the template's files whole (a checkpoint, cheap without fsync) where
                # the default WAL_LOG writes every block of it to the WAL: a third less time per test.
                conn.execute(f"CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY")
                break
            except psycopg.errors.ObjectInUse:
                # A terminated background worker may take a moment to leave the template.
                if attempt == 49:
                    raise
                time.sleep(0.1)
    return cluster.url(name)


def web_login(url: str) -> str:
    """The same database as the web tier logs in to it: as the embedded cluster's web login."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    info["user"] = db.WEB_USER
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in info.items()})


def drop_database(cluster: db.EmbeddedCluster, url: str) -> None:
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def module_db_url(cluster: db.EmbeddedCluster) -> Iterator[str]:
    """URL of a new, migrated database shared by one module's tests, which fill it once and then read it."""
    url = fresh_database(cluster)
    yield url
    drop_database(cluster, url)


@pytest.fixture
def db_url(cluster: db.EmbeddedCluster) -> Iterator[str]:
    """URL of a new, migrated, empty database for this test alone."""
    url = fresh_database(cluster)
    yield url
    drop_database(cluster, url)


@pytest.fixture
def empty_db_url(cluster: db.EmbeddedCluster) -> Iterator[str]:
    """URL of a new database with no schema at all."""
    url = fresh_database(cluster, migrated=False)
    yield url
    drop_database(cluster, url)


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(db_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for running fxticker (in-process or as a subprocess) against this test's database."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.delenv("DATABASE_READ_URL", raising=False)
    monkeypatch.setenv("FXTICKER_DATA_DIR", str(tmp_path / "unused-embedded"))
    return dict(os.environ)


class SettledClient(FlaskClient):
    """A test client whose every request comes after the app's worker has heard of every commit made
    before it (fxticker.web.version_watch), as a request does in production a few milliseconds after a
    change. Tests write and read within microseconds of each other; how soon a change is heard is
    tests/test_version_watch.py's subject, with a plain client."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        settled(self.application)
        return super().open(*args, **kwargs)


def settled(app: Flask, timeout: float = TRUST + 3) -> None:
    """Wait until app's watch knows the committed data version, or has stepped aside (requests then read
    it themselves); fail if it does neither within timeout."""
    watch = web_db.watch(app)
    try:
        with psycopg.connect(app.config["DATABASE_READ_URL"], autocommit=True, connect_timeout=5) as conn:
            web_db.as_reader(conn)
            committed = data_version.current(conn)
    except psycopg.OperationalError:
        return  # nothing to hear of: the app cannot reach the database either
    deadline = time.monotonic() + timeout
    while (known := watch.version()) is not None and known < committed:
        assert time.monotonic() < deadline, f"the app's watch is at version {known}, the table at {committed}"
        time.sleep(0.002)


def create_app_for(url: str) -> Flask:
    """The web app reading the database at url, as the web tier's login; its test clients are settled."""
    app = create_app({"TESTING": True, "DATABASE_READ_URL": web_login(url)})
    app.test_client_class = SettledClient
    return app


@pytest.fixture
def app(env: dict[str, str], db_url: str) -> Iterator[Flask]:
    """The web app reading this test's database."""
    application = create_app_for(db_url)
    yield application
    web_db.close(application)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
