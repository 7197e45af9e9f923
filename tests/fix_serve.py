"""Helpers for tests that run a real `fxticker serve`: a free port, its worker processes, its readiness."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def children(pid: int) -> list[int]:
    """The process ids whose parent is pid (gunicorn's workers, for its master)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def wait_until_serving(base: str, process: subprocess.Popen[Any], output: Callable[[], str],
                       seconds: float = 30) -> None:
    """Return once GET /healthz answers 200; kill the server and fail with its output if it never does."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(base + "/healthz", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"serve did not come up:\n{output()}")
        time.sleep(0.1)


# The attack: 16 clients sending a request head one line a second, against 8 gunicorn threads.
SLOW_CLIENTS = 16


def stop_gracefully(process: subprocess.Popen[Any], seconds: float = 30) -> None:
    """SIGTERM (gunicorn's graceful stop takes its workers with it), SIGKILL if it outlasts `seconds`.

    communicate() rather than wait(): it drains a piped stderr, which a chatty exit could otherwise fill.
    """
    if process.poll() is None:
        process.terminate()
    try:
        process.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()


class Served:
    def __init__(self, process: subprocess.Popen[str], port: int, log: Path) -> None:
        self.process, self.port, self.log = process, port, log
        self.base = f"http://127.0.0.1:{port}"

    def control_socket(self) -> Path:
        match = re.search(r"control socket (\S+)", self.log.read_text())
        assert match, self.log.read_text()
        return Path(match[1])

    def stop(self) -> None:
        stop_gracefully(self.process)


def start_serve(env: dict[str, str], tmp_path: Path) -> Served:
    """`fxticker serve` with 2 workers of 4 threads (the 8 threads that 16 slow clients would starve),
    its output in a file; stop it with Served.stop."""
    port = free_port()
    log = tmp_path / f"serve-{port}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "fxticker", "serve", "--port", str(port), "--workers", "2",
             "--graceful-timeout", "5"],
            env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    served = Served(process, port, log)
    wait_until_serving(served.base, process, lambda: log.read_text()[-2000:])
    return served


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
