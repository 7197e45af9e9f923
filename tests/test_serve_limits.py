"""`fxticker serve` against slow and hostile clients: slow clients are shed, /livez answers,
and each serve keeps its own gunicorn control socket. Real servers and real sockets on loopback."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from fxticker import serve as serving
from tests.fix_serve import SLOW_CLIENTS, Served, slow_client, start_serve

pytestmark = [pytest.mark.slow, pytest.mark.timing]

ATTACK_SECONDS = 15


@pytest.fixture
def serve(env: dict[str, str], tmp_path: Path) -> Iterator[Callable[[], Served]]:
    """Start an `fxticker serve` on a free port; every one started is stopped after the test."""
    started: list[Served] = []

    def start() -> Served:
        served = start_serve(env, tmp_path)
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop()


def test_slow_clients_are_shed_and_livez_still_answers(serve: Callable[[], Served]) -> None:
    served = serve()
    stop = threading.Event()
    shed: list[float] = []
    clients = [threading.Thread(target=slow_client, args=(served.port, stop, shed), daemon=True)
               for _ in range(SLOW_CLIENTS)]
    for client in clients:
        client.start()
    latencies = []
    try:
        time.sleep(3)  # every thread is busy with a slow client by now
        deadline = time.monotonic() + ATTACK_SECONDS
        while time.monotonic() < deadline:
            asked = time.monotonic()
            response = httpx.get(served.base + "/livez", timeout=30)
            latencies.append(time.monotonic() - asked)
            assert response.status_code == 200
            time.sleep(1)
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=10)
    # Slow clients were dropped and came back, again and again, instead of holding a thread throughout.
    assert len(shed) >= SLOW_CLIENTS, shed
    # A slow client holds a thread at most REQUEST_READ_TIMEOUT, but /livez queues behind the slow
    # clients its worker accepted before it: at worst all 16 on one worker's 4 threads, four rounds,
    # and one more for those that reconnected meanwhile (measured: 7 to 17 s). Without the deadline it
    # is never answered at all.
    assert max(latencies) < (SLOW_CLIENTS // 4 + 1) * serving.REQUEST_READ_TIMEOUT, latencies
    assert served.process.poll() is None
    print(f"/livez under {SLOW_CLIENTS} slow clients: max {max(latencies):.1f} s; {len(shed)} sheds")


def test_a_client_that_sends_nothing_holds_no_thread(serve: Callable[[], Served]) -> None:
    served = serve()
    idle = [socket.create_connection(("127.0.0.1", served.port)) for _ in range(SLOW_CLIENTS)]
    try:
        asked = time.monotonic()
        assert httpx.get(served.base + "/livez", timeout=20).status_code == 200
        # Idle connections that held threads would be let go only by the read timeout: an answer before
        # it means none did. A free thread answers in milliseconds, far from that bound.
        assert time.monotonic() - asked < serving.REQUEST_READ_TIMEOUT
    finally:
        for sock in idle:
            sock.close()


def test_each_serve_has_its_own_control_socket(serve: Callable[[], Served]) -> None:
    first = serve()
    second = serve()
    sockets = [first.control_socket(), second.control_socket()]
    assert sockets[0] != sockets[1]
    deadline = time.monotonic() + 10
    while not all(path.exists() for path in sockets) and time.monotonic() < deadline:
        time.sleep(0.1)
    for path in sockets:
        assert path.is_socket()
        assert path.parent.stat().st_mode & 0o777 == 0o700
    second.stop()
    # The first one's socket survives the second's stop, which removes its own.
    assert sockets[0].is_socket()
    assert not sockets[1].parent.exists()
    with socket.socket(socket.AF_UNIX) as control:
        control.connect(str(sockets[0]))


def raw(port: int, request: bytes) -> tuple[str, dict[str, str], bytes]:
    """Send bytes as they are (no client library would send these) and read the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value for name, value in (line.split(": ", 1) for line in lines)}
    return status, headers, body


@pytest.mark.parametrize(("request_bytes", "status", "message"), [
    (b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Bad<script>: 1\r\n\r\n", "HTTP/1.1 400 Bad Request",
     "bad request: the request line or a header is malformed"),
    (b"G<script>ET /livez HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400 Bad Request",
     "bad request: the request line or a header is malformed"),
    (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 414 URI Too Long",
     f"request line too long: at most {serving.LIMIT_REQUEST_LINE} bytes"),
    (b"GET /livez HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % n for n in range(150)) + b"\r\n",
     "HTTP/1.1 431 Request Header Fields Too Large",
     f"request header fields too large: at most {serving.LIMIT_REQUEST_FIELDS} fields of "
     f"{serving.LIMIT_REQUEST_FIELD_SIZE} bytes"),
])
def test_requests_gunicorn_refuses_are_answered_in_json(serve: Callable[[], Served], request_bytes: bytes,
                                                        status: str, message: str) -> None:
    served = serve()
    line, headers, body = raw(served.port, request_bytes)
    assert line == status
    assert headers["content-type"] == "application/json"
    assert headers["x-content-type-options"] == "nosniff"
    assert json.loads(body) == {"status": int(status.split()[1]), "message": message}
    assert b"<" not in body
    assert served.process.poll() is None
