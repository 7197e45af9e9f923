"""Serving: run the Flask app under gunicorn, with several workers, shared metrics and graceful shutdown.

gunicorn's BaseApplication lets `fxticker serve` keep its own options (no gunicorn command line to learn)
while gunicorn does what it is good at: pre-forked workers, restarting a worker that dies, and on SIGTERM
a graceful stop (workers finish the requests in flight, up to graceful_timeout). Each worker builds its
own app and database pool after the fork (no preload), so no connection is shared between processes.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import selectors
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from gunicorn import util
from gunicorn.app.base import BaseApplication
from gunicorn.http.errors import NoMoreData
from gunicorn.workers.gthread import ThreadWorker

from fxticker.settings import SETTINGS, Settings

log = logging.getLogger(__name__)

# What one client may take of a worker thread. gunicorn 27 waits for a new connection's first byte in
# its poller (5 s, then back to the poller), but once a byte came it reads the request head in a thread
# with no deadline: a client sending a header line a second held a thread as long as it liked, and 16
# such clients held all 8. REQUEST_READ_TIMEOUT bounds the whole read of one request (head and body),
# from its first byte; a client that misses it is disconnected. Behind nginx (docker-compose.yml),
# which buffers whole requests, no client ever comes near it.
REQUEST_READ_TIMEOUT = 5
# How long a worker that holds a connection per thread lets the others take a new one first (seconds):
# several wake-ups of an idle worker, and little against a connection's life.
ACCEPT_YIELD = 0.002
# Seconds an idle kept-alive connection is kept (gunicorn's keepalive; it waits in the poller, not in a
# thread). Behind a proxy a little longer than the default 2 s saves reconnections.
KEEPALIVE = 5
# gunicorn's own bounds on a request head, stated here so that the README and the tests read them from
# one place: the request line (414 beyond it), the number of header fields and each field's size (431).
LIMIT_REQUEST_LINE = 4094
LIMIT_REQUEST_FIELDS = 100
LIMIT_REQUEST_FIELD_SIZE = 8190


class _TooSlow(NoMoreData):  # type: ignore[misc]
    """A client that did not send its request within REQUEST_READ_TIMEOUT: gunicorn closes it quietly."""


class _DeadlineSocket(socket.socket):
    """A client socket whose reads for one request end at a deadline set by the first of them."""

    deadline: float | None = None

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        now = time.monotonic()
        if self.deadline is None:
            self.deadline = now + REQUEST_READ_TIMEOUT
        remaining = self.deadline - now
        if remaining <= 0:
            raise self._too_slow()
        previous = self.gettimeout()
        self.settimeout(remaining)
        try:
            return super().recv(bufsize, flags)
        except TimeoutError:
            raise self._too_slow() from None
        finally:
            self.settimeout(previous)

    def _too_slow(self) -> _TooSlow:
        try:
            peer = self.getpeername()
        except OSError:
            peer = "?"
        log.info("closed the connection of %s: no whole request within %d s", peer, REQUEST_READ_TIMEOUT)
        return _TooSlow()


# gunicorn answers a request it cannot parse itself, before the app sees it, with an HTML page that
# echoes the offending input. fxticker answers these as it answers every other error: JSON with a fixed
# message, no input echoed.
_PROTOCOL_ERRORS = {
    400: "bad request: the request line or a header is malformed",
    414: f"request line too long: at most {LIMIT_REQUEST_LINE} bytes",
    417: "expectation failed: only 100-continue is understood",
    431: f"request header fields too large: at most {LIMIT_REQUEST_FIELDS} fields of "
         f"{LIMIT_REQUEST_FIELD_SIZE} bytes",
    500: "internal server error",
    501: "not implemented: unsupported transfer coding",
}


class _ErrorPage:
    """Stands in for the client socket while gunicorn writes its error page: only its status is kept."""

    def __init__(self) -> None:
        self.written = b""

    def gettimeout(self) -> float:
        return 0.0  # gunicorn's write_nonblock then writes at once, with sendall

    def sendall(self, data: bytes) -> None:
        self.written += data

    def status(self) -> tuple[int, str]:
        line = self.written.split(b"\r\n", 1)[0].decode("latin-1")
        _version, code, reason = line.split(" ", 2)
        return int(code), reason


def json_error_answer(status: int, reason: str) -> bytes:
    """The app's error answer (its body and safe headers, fxticker.web), written by the server itself."""
    # Imported here: fxticker.web loads prometheus_client, which must not be loaded before
    # prepare_metrics_dir has named its directory. Workers have loaded it already.
    from fxticker.web.errors import error_body
    from fxticker.web.headers import SAFE

    body = json.dumps(error_body(status, _PROTOCOL_ERRORS.get(status, reason.lower()))).encode()
    fields = {"Connection": "close", "Content-Type": "application/json", **SAFE, "Cache-Control": "no-store",
              "Content-Length": str(len(body))}
    head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n"
    return head.encode("latin-1") + body


class SheddingWorker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's threaded worker, where a thread serves only a client that is sending: a connection
    waits for its first byte in the poller, and the read of each request ends at REQUEST_READ_TIMEOUT.

    It uses gunicorn's gthread internals (pending_conns, poller), pinned in requirements.lock; the
    tests of tests/test_serve_limits.py fail if a new gunicorn changes them.
    """

    def enqueue_req(self, conn: Any) -> None:
        # Runs in the worker's main thread, like every caller of gunicorn's own enqueue_req.
        if not isinstance(conn.sock, _DeadlineSocket):
            blocking = conn.sock.getblocking()
            conn.sock = _DeadlineSocket(fileno=conn.sock.detach())
            conn.sock.setblocking(blocking)
        if not conn.initialized and not conn.data_ready:
            # A new connection waits for its first byte in the poller, as gunicorn's deferred ones do
            # (closed after keepalive seconds), not for up to 5 s in a thread: 16 silent connections
            # held all 8 threads for 5 s at a time.
            conn.sock.setblocking(False)
            conn.timeout = time.monotonic() + self.cfg.keepalive
            self.pending_conns.append(conn)
            self.poller.register(conn.sock, selectors.EVENT_READ,
                                 partial(self.on_pending_socket_readable, conn))
            return
        super().enqueue_req(conn)

    def accept(self, listener: Any) -> None:
        # Every worker polls the one listening socket and the first awake takes the connection, so a
        # burst of kept-alive clients could land on one worker (16/0 was measured under wrk), whose one
        # GIL then serves them all while the other idles. Like nginx's accept_disabled, a worker that
        # already holds a connection per thread waits a moment first: an idler worker takes it, and when
        # none is idler this worker still does (the socket is non-blocking; a lost race is EAGAIN).
        if self.cfg.workers > 1 and self.nr_conns >= self.cfg.threads:
            time.sleep(ACCEPT_YIELD)
        super().accept(listener)

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        # gunicorn picks the status, logs and counts the error; the page it writes is replaced.
        page = _ErrorPage()
        super().handle_error(req, page, addr, exc)
        if not page.written:
            return
        try:
            util.write_nonblock(client, json_error_answer(*page.status()))
        except OSError:
            log.debug("the client left before its error answer was sent")

    def handle(self, conn: Any) -> Any:
        # Each request on a kept-alive connection gets the whole time again.
        if isinstance(conn.sock, _DeadlineSocket):
            conn.sock.deadline = None
        return super().handle(conn)


# The settings' own defaults, from their one table.
_SETTING_DEFAULTS: dict[str, Any] = {s.field: s.default for s in SETTINGS}


@dataclass(frozen=True)
class ServeOptions:
    """How `fxticker serve` runs; its defaults are the command's (a number that is also a setting,
    FXTICKER_WORKERS, takes its default from the settings' table)."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = _SETTING_DEFAULTS["workers"]
    threads: int = 4
    graceful_timeout: int = 30
    timeout: int = 60
    runtime_dir: Path | None = None  # private to one serve: its gunicorn control socket


def _child_exit(_server: Any, worker: Any) -> None:
    # A dead worker's live gauges must not linger; its counters stay summed (prometheus_client's advice).
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def _worker_exit(_server: Any, worker: Any) -> None:
    """A worker that stops closes its app's database pool: its connections end now, not at a timeout."""
    # Imported here like create_app below: prometheus_client, which fxticker.web imports, must not be
    # imported before prepare_metrics_dir has named its directory.
    from fxticker.web import pool as web_db

    app = getattr(worker, "wsgi", None)
    if app is not None:
        web_db.close(app)


class FxtickerApplication(BaseApplication):  # type: ignore[misc]
    """gunicorn, configured from ServeOptions, serving fxticker.web.create_app() in every worker."""

    def __init__(self, options: ServeOptions, conf: Settings) -> None:
        self.options = options
        self.conf = conf
        super().__init__()

    def load_config(self) -> None:
        o = self.options
        settings: dict[str, Any] = {
            "bind": [f"[{o.host}]:{o.port}" if ":" in o.host else f"{o.host}:{o.port}"],
            "workers": o.workers,
            # Threads let one worker wait on the database for several requests at once.
            "worker_class": f"{__name__}.SheddingWorker",
            "threads": o.threads,
            "keepalive": KEEPALIVE,
            "limit_request_line": LIMIT_REQUEST_LINE,
            "limit_request_fields": LIMIT_REQUEST_FIELDS,
            "limit_request_field_size": LIMIT_REQUEST_FIELD_SIZE,
            # Each serve its own control socket (gunicornc): gunicorn's default, one path per user,
            # let a second serve replace the first one's. Without a private directory, none.
            **({"control_socket": str(o.runtime_dir / "gunicorn.ctl")} if o.runtime_dir
               else {"control_socket_disable": True}),
            "graceful_timeout": o.graceful_timeout,
            "timeout": o.timeout,
            "proc_name": "fxticker-web",
            "errorlog": "-",
            "child_exit": _child_exit,
            "worker_exit": _worker_exit,
        }
        for key, value in settings.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from fxticker.web import create_app

        # Workers are forked from this process: they inherit the settings it read and checked.
        app = create_app(conf=self.conf)
        # Everything loaded so far (Flask, the app, psycopg, about 65,000 objects) lives as long as the
        # worker: frozen, the cyclic collector no longer walks it. A full collection otherwise stopped
        # every thread of the worker for about 40 ms, once every few hundred requests that keep answers
        # (cache misses): a tail of every request in flight (docs/benchmarks.md, api). gc.freeze is
        # what the gc documentation advises for pre-forking servers.
        gc.freeze()
        return app


def prepare_metrics_dir(configured: Path | None) -> Path:
    """The directory workers share metrics through, emptied, named in PROMETHEUS_MULTIPROC_DIR.

    Must run before prometheus_client is imported anywhere: it picks its storage at import time, from
    the environment.
    """
    if configured is not None:
        path = configured
        path.mkdir(parents=True, exist_ok=True)
        # Files of a previous run would be summed into this one's counters. Only prometheus_client's own
        # files go: the setting may name a directory that holds other things too.
        for stale in path.glob("*.db"):
            stale.unlink(missing_ok=True)
    else:
        path = Path(tempfile.mkdtemp(prefix="fxticker-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    return path


def run(options: ServeOptions, conf: Settings) -> None:
    """Serve until SIGTERM or SIGINT; return after the workers have stopped."""
    created_here = conf.prometheus_multiproc_dir is None
    metrics_dir = prepare_metrics_dir(conf.prometheus_multiproc_dir)
    # mkdtemp: a new directory only this account may enter, so no other serve or user shares it.
    runtime_dir = Path(tempfile.mkdtemp(prefix="fxticker-serve-"))
    options = replace(options, runtime_dir=runtime_dir)
    log.info("serving on %s:%d with %d worker(s); control socket %s", options.host, options.port,
             options.workers, runtime_dir / "gunicorn.ctl")
    master = os.getpid()
    try:
        FxtickerApplication(options, replace(conf, prometheus_multiproc_dir=metrics_dir)).run()
    finally:
        # Workers are forked inside run(): one that exits (a reload's SIGHUP, a SIGTERM of its own, a
        # restart after max requests) unwinds through here with SystemExit. The directories are the
        # master's and its other workers', in use until the master itself exits.
        if os.getpid() == master:
            shutil.rmtree(runtime_dir, ignore_errors=True)
            if created_here:
                shutil.rmtree(metrics_dir, ignore_errors=True)
