"""Request counts and durations taken around the WSGI app (fxticker/web/metrics.py, RequestTimer)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from fxticker.web.metrics import OTHER, RequestMetrics, RequestTimer


class Rule:
    def __init__(self, rule: str) -> None:
        self.rule = rule


class MatchedRequest:
    """What Flask leaves in environ["werkzeug.request"]: the request, with the URL rule it matched."""

    def __init__(self, rule: str | None) -> None:
        self.url_rule = Rule(rule) if rule is not None else None


def answering(status: str, rule: str | None) -> Callable[..., Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ["werkzeug.request"] = MatchedRequest(rule)
        start_response(status, [("Content-Type", "text/plain")])
        return [b"body"]
    return app


def failing(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    environ["werkzeug.request"] = MatchedRequest("/v1/latest")
    raise RuntimeError("the app broke")


def counted(registry: CollectorRegistry, endpoint: str, method: str, status: str) -> float | None:
    return registry.get_sample_value(
        "fxticker_http_requests_total", {"endpoint": endpoint, "method": method, "status": status})


def timed(registry: CollectorRegistry, endpoint: str, method: str) -> float | None:
    return registry.get_sample_value(
        "fxticker_http_request_duration_seconds_count", {"endpoint": endpoint, "method": method})


def call(app: Callable[..., Iterable[bytes]], method: str = "GET") -> tuple[list[str], bytes]:
    statuses: list[str] = []
    body = app({"REQUEST_METHOD": method, "PATH_INFO": "/x"},
               lambda status, headers, exc_info=None: statuses.append(status))
    return statuses, b"".join(body)


def test_a_request_is_counted_by_rule_method_and_status_and_passed_through() -> None:
    registry = CollectorRegistry()
    timer = RequestTimer(answering("201 CREATED", "/v1/<date>"), RequestMetrics(registry))
    assert call(timer) == (["201 CREATED"], b"body")
    assert call(timer) == (["201 CREATED"], b"body")
    assert counted(registry, "/v1/<date>", "GET", "201") == 2
    assert timed(registry, "/v1/<date>", "GET") == 2


def test_what_the_client_made_up_counts_as_other() -> None:
    registry = CollectorRegistry()
    metrics = RequestMetrics(registry)
    call(RequestTimer(answering("404 NOT FOUND", None), metrics), method="BREW")
    call(RequestTimer(answering("999 ODD", "/livez"), metrics))
    call(RequestTimer(answering("2x0 ODD", "/livez"), metrics))
    assert counted(registry, OTHER, OTHER, "404") == 1
    assert counted(registry, "/livez", "GET", OTHER) == 2


def test_an_app_that_raises_is_counted_as_a_500_and_the_error_goes_on() -> None:
    registry = CollectorRegistry()
    with pytest.raises(RuntimeError, match="the app broke"):
        call(RequestTimer(failing, RequestMetrics(registry)))
    assert counted(registry, "/v1/latest", "GET", "500") == 1
