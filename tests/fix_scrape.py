"""Helpers for the scrape and scheduler tests: a cluster of their own to stop and start, and table readers."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
from pytest_httpserver import HTTPServer

from fxticker.storage import cluster as db
from fxticker.storage import observations
from tests.pages import FIVE


def own_cluster() -> Iterator[db.EmbeddedCluster]:
    """A cluster the fault tests may stop and start without disturbing the session's shared one."""
    # Under /tmp with mode 0755: when we run as root the server runs as 'postgres' and must reach it.
    root = Path(tempfile.mkdtemp(prefix="fxt-faults-"))
    root.chmod(0o755)
    cluster = db.EmbeddedCluster(root / "db", db._pg_bindir())
    cluster.start()
    with psycopg.connect(cluster.url()) as conn:
        observations.migrate(conn)
    try:
        yield cluster
    finally:
        cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


def fresh(cluster: db.EmbeddedCluster) -> str:
    """The cluster running, with empty tables; its URL."""
    cluster.start()
    url = cluster.url()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE observation, scrape_run, scrape_source_run, source_state")
    return url


def allow_all(server: HTTPServer) -> None:
    """No robots.txt on this site (a 404), which RFC 9309 reads as no rules."""
    server.expect_request("/robots.txt").respond_with_data("", status=404)


def quotes(kzt: str) -> list[tuple[str, str, str]]:
    """The five quotes, with KZT's rate set, so that pages can be told apart in the table."""
    return [(c, kzt if c == "KZT" else r, ch) for c, r, ch in FIVE]


def runs(url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT id, status, trigger, sources_total, sources_failed, error, finished_at IS NOT NULL, host"
            " FROM scrape_run ORDER BY started_at"
        ).fetchall()


def source_runs(url: str, run_id: object) -> dict[str, tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT source, status, http_status, observations_new, observations_duplicate, error"
            " FROM scrape_source_run WHERE run_id = %s", (run_id,)
        ).fetchall()
    return {str(row[0]): tuple(row[1:]) for row in rows}


def kzt_rates(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT rate::text FROM observation WHERE currency = 'KZT' ORDER BY rate").fetchall()
    return [str(r[0]) for r in rows]
