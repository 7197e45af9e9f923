"""Every fetch (a page, an archive capture, a bank's answer) is bounded: decoded bytes, the whole
answer's time, and a Retry-After longer than fxticker waits. Hostile servers are real local servers; the
bomb is read in a subprocess with a memory cap, so a regression fails the test instead of the host."""

from __future__ import annotations

import gzip
import resource
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from fxticker.collect import fetcher
from fxticker.collect.archive import Archive, ArchivePolicy, Capture, CaptureFailed
from fxticker.collect.fetcher import FetchPolicy, RobotsCache, fetch_url
from fxticker.collect.sources import FetchError

MEMORY_LIMIT = 1024**3
ORIGINAL = "https://timesca.com/"


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def bomb(layers: int, size: int) -> bytes:
    """`size` zero bytes gzipped `layers` times: a few kilobytes that decode to `size`."""
    data = b"\0" * size
    for _ in range(layers):
        data = gzip.compress(data, compresslevel=9)
    return data


@pytest.fixture(scope="module")
def double_bomb() -> bytes:
    """2 GiB of zeros gzipped twice (a few kilobytes), what drove a backfill to a MemoryError; built a
    chunk at a time."""
    inner = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    zeros = b"\0" * (16 * 1024 * 1024)
    once = b"".join(inner.compress(zeros) for _ in range(128)) + inner.flush()
    return gzip.compress(once, compresslevel=9)

FETCH_ALL = """
import sys
from fxticker.collect import fetcher
from fxticker.collect.archive import Archive, ArchivePolicy, Capture, CaptureFailed
from fxticker.collect.sources import FetchError
base, max_bytes = sys.argv[1], int(sys.argv[2])
policy = fetcher.FetchPolicy(timeout=20, attempts=1)
try:
    fetcher.fetch_url(base + "/page", max_bytes, policy=policy)
except FetchError as exc:
    print("page:", exc)
with fetcher.make_client(policy) as client:
    try:
        fetcher.get(client, base + "/bank", max_bytes=max_bytes, policy=policy)
    except FetchError as exc:
        print("bank:", exc)
with Archive(ArchivePolicy(base_url=base, delay=0, fetch=policy), max_bytes) as archive:
    try:
        archive.fetch(Capture("20250101000000", "https://timesca.com/", "D", "text/html"))
    except CaptureFailed as exc:
        print("archive:", exc)
"""


@pytest.mark.slow
@pytest.mark.parametrize("encoding", ["gzip, gzip", "gzip,gzip", "x-gzip, gzip"])
def test_a_compressed_bomb_is_cut_at_the_decoded_cap_by_every_fetch(httpserver: HTTPServer, encoding: str,
                                                                    double_bomb: bytes) -> None:
    headers = {"Content-Encoding": encoding, "Content-Type": "text/html"}
    for path in ("/page", "/bank", "/web/20250101000000id_/https://timesca.com/"):
        httpserver.expect_request(path).respond_with_response(
            Response(double_bomb, headers=headers))
    httpserver.expect_request("/robots.txt").respond_with_data("")
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", FETCH_ALL, httpserver.url_for("").rstrip("/"),
                             str(10**6)], capture_output=True, text=True, timeout=120,
                            preexec_fn=_limit_memory, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["page", "bank", "archive"]
    assert all(line.endswith("body over the 1,000,000-byte limit") for line in lines), lines
    assert time.monotonic() - started < 60


def test_a_single_gzip_answer_is_capped_after_decoding(httpserver: HTTPServer) -> None:
    body = bomb(1, 5 * 10**6)
    httpserver.expect_request("/").respond_with_response(Response(body, headers={"Content-Encoding": "gzip"}))
    with pytest.raises(FetchError, match=r"body over the 1,000,000-byte limit$"):
        fetch_url(httpserver.url_for("/"), 10**6, policy=FetchPolicy(attempts=1))


def test_a_compressed_page_under_the_cap_reads_whole(httpserver: HTTPServer) -> None:
    text = "\u2022 KZT/USD = 0.00193 0%\n".encode() * 1000
    for encoding, body in (("gzip", gzip.compress(text)), ("deflate", zlib.compress(text)),
                           ("gzip, gzip", gzip.compress(gzip.compress(text))),
                           ("gzip", gzip.compress(text[:10]) + gzip.compress(text[10:]))):  # two members
        httpserver.clear()
        httpserver.expect_request("/").respond_with_response(
            Response(body, headers={"Content-Encoding": encoding}))
        page = fetch_url(httpserver.url_for("/"), len(text), policy=FetchPolicy(attempts=1))
        assert page.body == text, encoding


def test_an_encoding_not_asked_for_is_refused_by_name(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/").respond_with_response(Response(b"xx", headers={"Content-Encoding": "br"}))
    with pytest.raises(FetchError, match=r"Content-Encoding 'br', which fxticker does not ask for"):
        fetch_url(httpserver.url_for("/"), 10**6, policy=FetchPolicy(attempts=1))


@pytest.fixture
def drip() -> Iterator[tuple[str, list[str]]]:
    """A server that sends an answer a byte at a time, every 0.2 s (headers or body, as asked)."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    modes: list[str] = ["body"]

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    def answer(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nContent-Type: text/plain\r\n\r\n"
            data = head + b"x" * 100000
            if modes[0] == "body":
                conn.sendall(head)
                data = data[len(head):]
            for byte in data:
                if stop.is_set():
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.2)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", modes
    stop.set()
    thread.join()
    server.close()


@pytest.mark.slow
@pytest.mark.timing
@pytest.mark.parametrize("mode", ["body", "headers"])
def test_a_dripping_answer_fails_at_the_whole_answer_deadline(drip: tuple[str, list[str]],
                                                              mode: str) -> None:
    url, modes = drip
    modes[0] = mode
    policy = FetchPolicy(timeout=1, connect_timeout=1, attempts=3, backoff=0.01)
    assert policy.answer_deadline == 3 * 1
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"no whole answer within 3 s$"):
        fetch_url(url + "/", 10**6, policy=policy)
    elapsed = time.monotonic() - started
    assert 2.5 < elapsed < 4.5, elapsed  # not retried, and not a read timeout's multiple
    with fetcher.make_client(policy) as client, pytest.raises(FetchError, match="no whole answer"):
        fetcher.get(client, url + "/bank", max_bytes=10**6, policy=policy)


def test_the_deadline_is_a_multiple_of_the_fetch_timeout() -> None:
    assert FetchPolicy(timeout=10).answer_deadline == 30
    assert FetchPolicy(timeout=10, deadline=5).answer_deadline == 5


def test_a_long_retry_after_on_503_fails_an_archive_capture_at_once(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/web/20250101000000id_/https://timesca.com/").respond_with_response(
        Response("busy", status=503, headers={"Retry-After": "120"}))
    slept: list[float] = []
    policy = ArchivePolicy(base_url=httpserver.url_for("").rstrip("/"), delay=0,
                           fetch=FetchPolicy(timeout=2, attempts=4, backoff=0.01))
    with Archive(policy, 10**6, sleep=slept.append) as archive, pytest.raises(CaptureFailed) as failed:
        archive.fetch(Capture("20250101000000", ORIGINAL, "D", "text/html"))
    assert "the server asks to wait 120 s, longer than the 60 s fxticker waits" in str(failed.value)
    assert len(httpserver.log) == 1 and all(wait < 1 for wait in slept), slept


def test_a_long_retry_after_on_503_fails_a_page_and_a_bank_at_once(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/").respond_with_response(
        Response("busy", status=503, headers={"Retry-After": "3600"}))
    httpserver.expect_request("/robots.txt").respond_with_data("")
    slept: list[float] = []
    with httpx.Client() as client, pytest.raises(FetchError, match="asks to wait 3600 s"):
        fetcher.get(client, httpserver.url_for("/"), max_bytes=10**6, policy=FetchPolicy(),
                    sleep=slept.append)
    with pytest.raises(FetchError, match="asks to wait 3600 s"):
        fetch_url(httpserver.url_for("/"), 10**6, policy=FetchPolicy(), robots=RobotsCache(),
                  sleep=slept.append)
    assert slept == []
