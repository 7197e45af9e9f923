"""`fxticker serve` against slow and hostile clients (issue 14): slow clients are shed, /livez answers,
and each serve keeps its own gunicorn control socket. Real servers and real sockets on loopback."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from fxticker import serve as serving
from tests.fix_serve import free_port, wait_until_serving

SLOW_CLIENTS = 16
ATTACK_SECONDS = 15


class Served:
    def __init__(self, process: subprocess.Popen[str], port: int, log: Path) -> None:
        self.process, self.port, self.log = process, port, log
        self.base = f"http://127.0.0.1:{port}"

    def control_socket(self) -> Path:
        match = re.search(r"control socket (\S+)", self.log.read_text())
        assert match, self.log.read_text()
        return Path(match[1])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def serve(env: dict[str, str], tmp_path: Path) -> Iterator[Callable[[], Served]]:
    """Start an `fxticker serve` on a free port; every one started is stopped after the test."""
    started: list[Served] = []

    def start() -> Served:
        port = free_port()
        log = tmp_path / f"serve-{port}.log"
        with log.open("w") as out:
            # 2 workers of 4 threads: the 8 threads the slow clients of the issue starved.
            process = subprocess.Popen(
                [sys.executable, "-m", "fxticker", "serve", "--port", str(port), "--workers", "2",
                 "--graceful-timeout", "5"],
                env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        served = Served(process, port, log)
        started.append(served)
        wait_until_serving(served.base, process, lambda: log.read_text()[-2000:])
        return served

    yield start
    for served in started:
        served.stop()


def slow_client(port: int, stop: threading.Event, shed: list[float]) -> None:
    """Send a request head one header line a second, forever; reconnect when the server drops us."""
    while not stop.is_set():
        opened = time.monotonic()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\n")
                line = 0
                while not stop.wait(1.0):
                    sock.sendall(f"X-Slow-{line}: {'a' * 10}\r\n".encode())
                    line += 1
        except OSError:
            shed.append(time.monotonic() - opened)  # the server closed us; come back at once


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
            response = httpx.get(served.base + "/livez", timeout=25)
            latencies.append(time.monotonic() - asked)
            assert response.status_code == 200
            time.sleep(1)
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=10)
    # Slow clients were dropped and came back, again and again, instead of holding a thread throughout.
    assert len(shed) >= SLOW_CLIENTS, shed
    # A slow client holds a thread at most REQUEST_READ_TIMEOUT, but /livez may queue behind every
    # slow client of its worker (8 on 4 threads) and those that reconnected meanwhile: a few rounds.
    # Without the deadline it is never answered at all.
    assert max(latencies) < 3 * serving.REQUEST_READ_TIMEOUT, latencies
    assert served.process.poll() is None
    print(f"/livez under {SLOW_CLIENTS} slow clients: max {max(latencies):.1f} s; {len(shed)} sheds")


def test_a_client_that_sends_nothing_holds_no_thread(serve: Callable[[], Served]) -> None:
    served = serve()
    idle = [socket.create_connection(("127.0.0.1", served.port)) for _ in range(SLOW_CLIENTS)]
    try:
        asked = time.monotonic()
        assert httpx.get(served.base + "/livez", timeout=20).status_code == 200
        assert time.monotonic() - asked < 2
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
