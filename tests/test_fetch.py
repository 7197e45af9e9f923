"""The polite fetcher against real local HTTP servers: headers, retries, Retry-After, 304, robots, caps."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from fxticker import __version__
from fxticker.collect.fetcher import (
    FetchPolicy,
    RobotsCache,
    fetch_url,
    get,
    make_client,
)
from fxticker.collect.sources import FetchError, Validators
from tests.pages import html_page, text_page

FAST = FetchPolicy(timeout=0.3, connect_timeout=0.3, attempts=3, backoff=0.01, max_wait=0.5)
PAGE = html_page().encode()


def allow_all(server: HTTPServer) -> None:
    server.expect_request("/robots.txt").respond_with_data("", status=404)


def sequence(*responses: Response) -> tuple[list[Request], object]:
    """A handler answering with `responses` in turn (the last one repeats), and the requests it saw."""
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return responses[min(len(seen), len(responses)) - 1]

    return seen, handler


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with make_client(FAST) as http:
        yield http


def test_identifies_itself_and_says_what_it_accepts(httpserver: HTTPServer, client: httpx.Client) -> None:
    allow_all(httpserver)
    seen, handler = sequence(Response(PAGE, content_type="text/html; charset=utf-8"))
    httpserver.expect_request("/").respond_with_handler(handler)  # type: ignore[arg-type]
    page = fetch_url(httpserver.url_for("/"), 10**6, client, policy=FAST, robots=RobotsCache())
    assert page.body == PAGE and page.status == 200
    assert page.content_type == "text/html; charset=utf-8"
    assert seen[0].headers["User-Agent"].startswith(f"fxticker/{__version__} ")
    assert "text/html" in seen[0].headers["Accept"]


def test_retries_5xx_and_429_then_succeeds(httpserver: HTTPServer, client: httpx.Client) -> None:
    seen, handler = sequence(Response("down", status=503), Response("slow down", status=429),
                             Response(PAGE, content_type="text/html"))
    httpserver.expect_request("/").respond_with_handler(handler)  # type: ignore[arg-type]
    page = fetch_url(httpserver.url_for("/"), 10**6, client, policy=FAST)
    assert page.body == PAGE
    assert len(seen) == 3


def test_attempts_are_bounded_and_the_error_names_the_status(httpserver: HTTPServer,
                                                               client: httpx.Client) -> None:
    seen, handler = sequence(Response("broken", status=500))
    httpserver.expect_request("/").respond_with_handler(handler)  # type: ignore[arg-type]
    with pytest.raises(FetchError, match=r"HTTP 500 \(after 3 attempts\)") as caught:
        fetch_url(httpserver.url_for("/"), 10**6, client, policy=FAST)
    assert caught.value.status == 500
    assert len(seen) == 3


def test_a_client_error_is_not_retried(httpserver: HTTPServer, client: httpx.Client) -> None:
    seen, handler = sequence(Response("gone", status=404))
    httpserver.expect_request("/").respond_with_handler(handler)  # type: ignore[arg-type]
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch_url(httpserver.url_for("/"), 10**6, client, policy=FAST)
    assert len(seen) == 1


def test_backoff_grows_exponentially_with_jitter(httpserver: HTTPServer, client: httpx.Client) -> None:
    seen, handler = sequence(Response("broken", status=502))
    httpserver.expect_request("/").respond_with_handler(handler)  # type: ignore[arg-type]
    waits: list[float] = []
    policy = FetchPolicy(attempts=4, backoff=1.0, max_wait=60)
    with pytest.raises(FetchError):
        get(client, httpserver.url_for("/"), max_bytes=10**6, policy=policy, sleep=waits.append)
    assert len(seen) == 4 and len(waits) == 3
    for wait, base in zip(waits, (1.0, 2.0, 4.0), strict=True):
        assert base <= wait <= base + 1.0


def test_retry_after_is_honoured(httpserver: HTTPServer, client: httpx.Client) -> None:
    _, handler = sequence(Response("later", status=429, headers={"Retry-After": "7"}), Response(PAGE))
    httpserver.expect_request("/").respond_with_handler(handler)  # type: ignore[arg-type]
    waits: list[float] = []
    answer = get(client, httpserver.url_for("/"), max_bytes=10**6,
                 policy=FetchPolicy(attempts=3, backoff=0.01, max_wait=30), sleep=waits.append)
    assert answer.status == 200
    assert waits == [7.0]


def test_a_retry_after_longer_than_we_wait_fails_at_once(httpserver: HTTPServer,
                                                         client: httpx.Client) -> None:
    seen, handler = sequence(Response("later", status=503, headers={"Retry-After": "3600"}))
    httpserver.expect_request("/").respond_with_handler(handler)  # type: ignore[arg-type]
    with pytest.raises(FetchError, match="asks to wait 3600 s"):
        fetch_url(httpserver.url_for("/"), 10**6, client, policy=FAST)
    assert len(seen) == 1


def test_conditional_get_turns_a_304_into_a_page_without_body(httpserver: HTTPServer,
                                                               client: httpx.Client) -> None:
    etag, modified = '"v1"', "Fri, 19 Dec 2025 08:00:00 GMT"

    def handler(request: Request) -> Response:
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return Response(PAGE, content_type="text/html", headers={"ETag": etag, "Last-Modified": modified})

    httpserver.expect_request("/").respond_with_handler(handler)
    first = fetch_url(httpserver.url_for("/"), 10**6, client, policy=FAST)
    assert first.validators == Validators(etag, modified) and not first.not_modified
    second = fetch_url(httpserver.url_for("/"), 10**6, client, policy=FAST, validators=first.validators)
    assert second.not_modified and second.body == b"" and second.validators == first.validators
    sent = httpserver.log[-1][0].headers
    assert sent["If-None-Match"] == etag and sent["If-Modified-Since"] == modified


def test_robots_txt_is_obeyed_and_read_once(httpserver: HTTPServer, client: httpx.Client) -> None:
    seen, robots = sequence(Response("User-agent: *\nDisallow: /private\n", content_type="text/plain"))
    httpserver.expect_request("/robots.txt").respond_with_handler(robots)  # type: ignore[arg-type]
    httpserver.expect_request("/news").respond_with_data(PAGE, content_type="text/html")
    cache = RobotsCache()
    with pytest.raises(FetchError, match=r"disallowed by .*/robots\.txt"):
        fetch_url(httpserver.url_for("/private/page"), 10**6, client, policy=FAST, robots=cache)
    assert fetch_url(httpserver.url_for("/news"), 10**6, client, policy=FAST, robots=cache).body == PAGE
    assert fetch_url(httpserver.url_for("/news"), 10**6, client, policy=FAST, robots=cache).body == PAGE
    assert len(seen) == 1
    assert not any(r.path.startswith("/private") for r, _ in httpserver.log)


def test_robots_txt_rules_for_fxticker_by_name(httpserver: HTTPServer, client: httpx.Client) -> None:
    httpserver.expect_request("/robots.txt").respond_with_data(
        "User-agent: fxticker\nDisallow: /\n\nUser-agent: *\nAllow: /\n", content_type="text/plain")
    with pytest.raises(FetchError, match="disallowed"):
        fetch_url(httpserver.url_for("/"), 10**6, client, policy=FAST, robots=RobotsCache())


def test_robots_txt_is_read_again_after_its_time(httpserver: HTTPServer, client: httpx.Client) -> None:
    seen, robots = sequence(Response("User-agent: *\nAllow: /\n"), Response("User-agent: *\nDisallow: /\n"))
    httpserver.expect_request("/robots.txt").respond_with_handler(robots)  # type: ignore[arg-type]
    httpserver.expect_request("/").respond_with_data(PAGE)
    clock = [0.0]
    cache = RobotsCache(clock=lambda: clock[0])
    policy = FetchPolicy(robots_ttl=60, attempts=1)
    assert fetch_url(httpserver.url_for("/"), 10**6, client, policy=policy, robots=cache).body == PAGE
    clock[0] = 30.0
    assert fetch_url(httpserver.url_for("/"), 10**6, client, policy=policy, robots=cache).body == PAGE
    clock[0] = 61.0
    with pytest.raises(FetchError, match="disallowed"):
        fetch_url(httpserver.url_for("/"), 10**6, client, policy=policy, robots=cache)
    assert len(seen) == 2


def test_an_unreadable_robots_txt_means_do_not_fetch(httpserver: HTTPServer, client: httpx.Client) -> None:
    httpserver.expect_request("/robots.txt").respond_with_data("oops", status=500)
    httpserver.expect_request("/").respond_with_data(PAGE)
    with pytest.raises(FetchError, match=r"robots\.txt unreadable, so not fetching"):
        fetch_url(httpserver.url_for("/"), 10**6, client, policy=FAST, robots=RobotsCache())
    assert all(r.path == "/robots.txt" for r, _ in httpserver.log)


def test_bodies_over_the_cap_are_refused(httpserver: HTTPServer, client: httpx.Client) -> None:
    httpserver.expect_request("/declared").respond_with_data(b"x" * 5000)
    httpserver.expect_request("/streamed").respond_with_response(
        Response((b"x" * 1000 for _ in range(5)), direct_passthrough=True))
    with pytest.raises(FetchError, match="5,000 bytes declared, over the 4,096-byte limit"):
        fetch_url(httpserver.url_for("/declared"), 4096, client, policy=FAST)
    with pytest.raises(FetchError, match="body over the 4,096-byte limit"):
        fetch_url(httpserver.url_for("/streamed"), 4096, client, policy=FAST)


def test_a_silent_server_times_out_after_bounded_attempts(client: httpx.Client) -> None:
    # A real socket that accepts connections (the kernel's backlog) and never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        with pytest.raises(FetchError, match=r"timed out \(ReadTimeout\) \(after 3 attempts\)"):
            fetch_url(f"http://127.0.0.1:{port}/", 10**6, client, policy=FAST)


def test_a_refused_connection_is_retried_then_reported(client: httpx.Client) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(FetchError, match=r"ConnectError.*\(after 3 attempts\)"):
        fetch_url(f"http://127.0.0.1:{port}/", 10**6, client, policy=FAST)


def test_ingest_and_parse_reject_a_malformed_url_by_name_and_go_on(env: dict[str, str],
                                                                   tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text(text_page())
    for command in ("parse", "ingest"):
        result = subprocess.run([sys.executable, "-m", "fxticker", command, "https://host:abc/", str(good)],
                                env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        assert "https://host:abc/: not an http(s) URL with a valid host and port" in result.stderr
        if command == "parse":
            assert len(result.stdout.splitlines()) == 5  # the good page still parsed
        else:
            assert "5 observation(s) new" in result.stderr
