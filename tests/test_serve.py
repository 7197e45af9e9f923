"""`fxticker serve`: gunicorn with several workers, metrics summed across them, and a graceful stop."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import psycopg
import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from fxticker.cli import main
from tests.fix_serve import children, free_port, start_serve, wait_until_serving
from tests.fix_wait import wait_for

pytestmark = pytest.mark.slow


class Server:
    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process = process
        self.base = f"http://127.0.0.1:{port}"

    def get(self, path: str, timeout: float = 10) -> httpx.Response:
        return httpx.get(self.base + path, timeout=timeout)


@pytest.fixture
def server(env: dict[str, str], tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    # A file a previous run left behind: serve must empty the directory, or it would be summed in.
    (metrics_dir / "counter_999999.db").write_bytes(b"not a metrics file")
    process = subprocess.Popen(
        [sys.executable, "-m", "fxticker", "serve", "--port", str(port), "--workers", "2",
         "--graceful-timeout", "10"],
        env={**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    srv = Server(process, port)
    wait_until_serving(srv.base, process, lambda: process.communicate()[1][-2000:])
    yield srv
    if process.poll() is None:
        process.kill()
        process.communicate()


def test_workers_share_request_metrics(server: Server) -> None:
    assert len(children(server.process.pid)) == 2
    for _ in range(20):
        assert server.get("/healthz").status_code == 200
    text = server.get("/metrics").text
    values = {
        (s.name, s.labels.get("endpoint"), s.labels.get("status")): s.value
        for family in text_string_to_metric_families(text) for s in family.samples
    }
    # 20 here plus the readiness polls: at least 21 /healthz answers, whichever worker gave them.
    assert values[("fxticker_http_requests_total", "/healthz", "200")] >= 21
    assert values[("fxticker_database_up", None, None)] == 1


@pytest.mark.timing
def test_sigterm_lets_the_request_in_flight_finish(server: Server, db_url: str) -> None:
    results: list[int] = []
    with psycopg.connect(db_url) as blocker:
        # Hold a lock that /healthz's count(*) waits for: the request is in flight when SIGTERM comes.
        blocker.execute("LOCK TABLE observation IN ACCESS EXCLUSIVE MODE")
        request = threading.Thread(target=lambda: results.append(server.get("/healthz", 20).status_code))
        request.start()
        with psycopg.connect(db_url, autocommit=True) as watcher:
            wait_for("the request to wait on the lock", lambda: watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND datname = current_database()").fetchone() == (1,))
        server.process.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        assert server.process.poll() is None, "the server stopped with a request in flight"
        blocker.rollback()
    request.join(20)
    assert results == [200]
    _, stderr = server.process.communicate(timeout=20)
    assert server.process.returncode == 0
    assert "Handling signal: term" in stderr and "Shutting down: Master" in stderr


@pytest.mark.parametrize(("name", "value", "message"), [
    ("FXTICKER_WORKERS", "0", "FXTICKER_WORKERS='0': must be from 1 to 64"),
    ("FXTICKER_HEALTH_MAX_AGE", "soon",
     "FXTICKER_HEALTH_MAX_AGE='soon': not a whole number (from 1 to 2592000)"),
])
def test_bad_settings_are_one_line_before_anything_starts(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    result = CliRunner().invoke(main, ["serve", "--port", str(free_port())])
    assert result.exit_code == 1
    assert result.output == f"fxticker: {message}\n"


def test_a_workers_app_is_frozen_out_of_the_cyclic_collector(env: dict[str, str], tmp_path: Path) -> None:
    # What a worker loads lives as long as it; left to the collector, each full collection walked it
    # all while every thread of the worker waited (docs/benchmarks.md, api: the tail).
    code = ("import gc; from fxticker import serve, settings; "
            "app = serve.FxtickerApplication(serve.ServeOptions(), settings.load()).load(); "
            "print(gc.get_freeze_count(), len(gc.get_objects()))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env={**env, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    frozen, collected = map(int, result.stdout.split())
    assert frozen > 10_000 and collected < frozen / 10, (frozen, collected)


def _held_by(pids: list[int], port: int, client_ports: set[int]) -> list[int]:
    """How many of the connections from client_ports to port each process holds (/proc, Linux)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = (int(address.split(":")[1], 16) for address in fields[1:3])
        if local == port and remote in client_ports:
            inodes.add(f"socket:[{fields[9]}]")
    counts = []
    for pid in pids:
        held = 0
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):  # closed since the listing
                held += os.readlink(fd) in inodes
        counts.append(held)
    return counts


def _get_livez(client: socket.socket) -> None:
    client.sendall(b"GET /livez HTTP/1.1\r\nHost: localhost\r\n\r\n")
    answer = b""
    while not answer.endswith(b"}"):
        chunk = client.recv(4096)
        assert chunk, answer
        answer += chunk.rstrip(b"\n")
    assert answer.startswith(b"HTTP/1.1 200"), answer


@pytest.mark.timing
def test_a_burst_of_kept_alive_clients_is_shared_between_the_workers(server: Server) -> None:
    # All 16 landed on one worker at times (docs/benchmarks.md, api: the tail), its one GIL serving them
    # while the other worker idled.
    port = int(server.base.rsplit(":", 1)[1])
    workers = children(server.process.pid)
    assert len(workers) == 2

    served: set[int] = set()

    def both_serve() -> bool:
        # A worker still loading the app takes no connection: the burst is for two serving workers.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            _get_livez(client)
            held = _held_by(workers, port, {client.getsockname()[1]})
        served.update(pid for pid, count in zip(workers, held, strict=True) if count)
        return len(served) == 2

    wait_for("a connection to each worker", both_serve)
    clients = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(16)]
    try:
        for client in clients:
            _get_livez(client)
        held = _held_by(workers, port, {c.getsockname()[1] for c in clients})
    finally:
        for client in clients:
            client.close()
    assert sum(held) == 16 and max(held) <= 11, held


def test_serve_with_too_many_workers_is_one_line_and_no_traceback(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "FXTICKER_WORKERS": "100000"}
    result = subprocess.run([sys.executable, "-m", "fxticker", "serve"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr == "fxticker: FXTICKER_WORKERS='100000': must be from 1 to 64\n"
    assert result.stdout == ""


def _replaced(master: int, before: set[int], every: bool) -> bool:
    now = set(children(master))
    return len(now) == 2 and now != before and not (every and now & before)


def _more_than(answers: list[int | str], count: int) -> bool:
    return len(answers) > count


@pytest.mark.timing
def test_a_reload_and_a_killed_worker_keep_the_service_answering(env: dict[str, str], tmp_path: Path) -> None:
    """SIGHUP to the master is gunicorn's graceful worker restart, and SIGTERM to one worker is a worker
    replaced: the exiting workers must leave the master's shared metrics directory and control socket
    alone, so that every request, during and after, is answered."""
    env = {k: v for k, v in env.items() if k != "PROMETHEUS_MULTIPROC_DIR"}  # the directory serve makes
    served = start_serve(env, tmp_path)
    master = served.process.pid
    answers: list[int | str] = []
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            try:
                answers.append(httpx.get(served.base + "/livez", timeout=10).status_code)
            except httpx.TransportError as exc:
                answers.append(repr(exc))

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        for signalled in ("reload", "reload", "worker"):
            before = set(children(master))
            if signalled == "reload":
                os.kill(master, signal.SIGHUP)
            else:
                os.kill(sorted(before)[0], signal.SIGTERM)
            wait_for(f"the workers replaced after a {signalled}",
                     partial(_replaced, master, before, every=signalled == "reload"))
            wait_for("requests answered by the new workers", partial(_more_than, answers, len(answers) + 20))
        assert httpx.get(served.base + "/metrics", timeout=10).status_code == 200
        assert served.control_socket().exists()
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        served.stop()
    assert len(answers) > 60 and set(answers) == {200}, sorted(set(map(str, answers)))
