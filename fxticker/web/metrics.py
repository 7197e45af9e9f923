"""Prometheus metrics: request counts and durations measured here, scrape and storage facts read from the DB.

Scrapes run in the scheduler's process, not in the web workers, so their metrics are derived from the
scrape accounting tables when /metrics is read: any web instance reports the same numbers, and nothing is
lost when a worker restarts. Request metrics are per process; under gunicorn with several workers they
are shared through prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set by
fxticker/serve.py before prometheus_client is imported) and summed by MultiProcessCollector.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import psycopg_pool
from flask import Blueprint, Flask, current_app
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from werkzeug.wrappers import Response

from fxticker.official import rate_store as official_store
from fxticker.storage import observations as store
from fxticker.storage import scrape_runs
from fxticker.web import official_view as official_web
from fxticker.web import pool as web_pool

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

bp = Blueprint("metrics", __name__)

# The label value of every path, method or status outside the bounded sets below.
OTHER = "other"
# RFC 9110's methods and PATCH (RFC 5789).
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})



class DatabaseCollector(Collector):
    """Scrape runs by outcome, observations stored and the last success, queried at collection time."""

    def __init__(self, pool: psycopg_pool.ConnectionPool, timeout: float = 2.0) -> None:
        self._pool = pool
        self._timeout = timeout

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("fxticker_database_up", "1 when /metrics could read the database.")
        try:
            with web_pool.checked_connection(self._pool, self._timeout) as conn:
                by_run = scrape_runs.runs_by_status(conn)
                by_source = scrape_runs.sources_by_status(conn)
                last_success = scrape_runs.last_success(conn)
                count, sightings = store.observation_totals(conn)
                official_fetches = official_store.fetches_by_outcome(conn)
                official_ok = official_store.last_success(conn)
        except (psycopg_pool.PoolTimeout, psycopg.Error) as exc:
            log.warning("metrics: database unavailable: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        run_family = CounterMetricFamily(
            "fxticker_scrape_runs", "Scrape runs recorded, by outcome (running, ok, failed).",
            labels=["status"],
        )
        for status, n in sorted(by_run.items()):
            run_family.add_metric([status], n)
        yield run_family
        source_family = CounterMetricFamily(
            "fxticker_scrape_sources", "Sources fetched within scrape runs, by outcome.", labels=["status"]
        )
        for status, n in sorted(by_source.items()):
            source_family.add_metric([status], n)
        yield source_family
        if last_success is not None:
            yield GaugeMetricFamily(
                "fxticker_last_scrape_success_timestamp_seconds",
                "Unix time the last successful scrape run finished.",
                value=last_success.timestamp(),
            )
        yield GaugeMetricFamily(
            "fxticker_observations_stored", "Distinct quotes stored (rows of observation).", value=count
        )
        yield CounterMetricFamily(
            "fxticker_observation_sightings", "Times a stored quote was seen, over all scrapes.",
            value=sightings,
        )
        yield from official_web.metric_families(official_fetches, official_ok)


class RequestMetrics:
    """Request counts and durations by endpoint, method and status of one app."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        # In multiprocess mode the values live in files and MultiProcessCollector reads them; registering
        # them as well would report this worker's share a second time.
        self.requests = Counter(
            "fxticker_http_requests", "HTTP requests answered, by endpoint (URL rule), method and status.",
            ["endpoint", "method", "status"], registry=registry,
        )
        self.duration = Histogram(
            "fxticker_http_request_duration_seconds", "Time to answer an HTTP request, by endpoint.",
            ["endpoint", "method"], registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )
        # Summed over the live workers: how many hear of data changes from PostgreSQL's notifications
        # (fxticker.web.version_watch); a worker that does not reads the data version on every request.
        self.watching = Gauge(
            "fxticker_data_version_watchers",
            "Web workers that hear of data changes from the database's notifications; the others read "
            "the data version on every request.",
            registry=registry, multiprocess_mode="livesum",
        )
        # Each label set's two series, found once: prometheus_client's labels() takes a lock and builds
        # a key on every call, a fifth of what a trivial request costs. The label values come from
        # bounded sets (labels()), so this holds a few hundred entries at most.
        self._series: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    def record(self, endpoint: str, method: str, status: str, seconds: float) -> None:
        series = self._series.get((endpoint, method, status))
        if series is None:
            series = (self.requests.labels(endpoint, method, status), self.duration.labels(endpoint, method))
            self._series[(endpoint, method, status)] = series
        series[0].inc()
        series[1].observe(seconds)


def init_app(app: Flask, pool: psycopg_pool.ConnectionPool, shared: Path | None) -> None:
    """Measure every request of app and serve /metrics; shared: PROMETHEUS_MULTIPROC_DIR, if any."""
    registry = CollectorRegistry()
    metrics = RequestMetrics(None if shared is not None else registry)
    collector = DatabaseCollector(pool, float(app.config.get("METRICS_DB_TIMEOUT", 2.0)))
    if shared is None:
        registry.register(collector)
    app.extensions["fxticker_metrics"] = (metrics, registry, collector, shared)
    web_pool.watch(app).observe(lambda listening: metrics.watching.set(1 if listening else 0))
    app.wsgi_app = RequestTimer(app.wsgi_app, metrics)  # type: ignore[method-assign]
    app.register_blueprint(bp)


class RequestTimer:
    """WSGI middleware around Flask's request handling: counts and times every request it answers.

    A layer outside Flask rather than a before/after_request pair: each hook costs Flask a dispatch and
    each `g`, `request` or `current_app` a context lookup, together a quarter of what a trivial request
    costs. Out here the time also covers Flask's own work (contexts, routing, error pages). As with any
    hook, a streamed body's time ends when its first part is ready.
    """

    def __init__(self, app: WSGIApplication, metrics: RequestMetrics) -> None:
        self._app = app
        self._metrics = metrics

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        # Labelled when the app starts its answer: Flask still holds the request (with the rule it
        # matched) in the environ then, and drops it when the app returns.
        answered: list[tuple[str, str, str]] = []

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answered.append(labels(environ, status))
            return start_response(status, headers, exc_info)

        try:
            return self._app(environ, start)
        finally:
            self._metrics.record(*(answered[-1] if answered else labels(environ, "500")),
                                 time.perf_counter() - started)


def labels(environ: WSGIEnvironment, status: str) -> tuple[str, str, str]:
    """The request's endpoint, method and status as label values, each from a bounded set.

    Clients choose the path and the method: taken as they come, every made-up one would be a new series
    kept for the life of the process. The endpoint is the URL rule that matched (of Flask's request,
    which werkzeug keeps in the environ); a path that matched none, and a method outside HTTP's standard
    ones, count as OTHER.
    """
    rule = getattr(environ.get("werkzeug.request"), "url_rule", None)
    endpoint = rule.rule if rule is not None else OTHER
    method = environ.get("REQUEST_METHOD", "")
    code = status[:3]
    return (endpoint, method if method in METHODS else OTHER,
            code if len(code) == 3 and code.isdigit() and "100" <= code <= "599" else OTHER)


@bp.get("/metrics")
def metrics_endpoint() -> Response:
    _metrics, registry, collector, shared = current_app.extensions["fxticker_metrics"]
    if shared is not None:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(shared))  # type: ignore[no-untyped-call]
        registry.register(collector)
    payload: Any = generate_latest(registry)
    return Response(payload, content_type=CONTENT_TYPE_LATEST)
