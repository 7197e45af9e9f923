"""Serving: run the Flask app under gunicorn, with several workers, shared metrics and graceful shutdown.

gunicorn's BaseApplication lets `fxticker serve` keep its own options (no gunicorn command line to learn)
while gunicorn does what it is good at: pre-forked workers, restarting a worker that dies, and on SIGTERM
a graceful stop (workers finish the requests in flight, up to graceful_timeout). Each worker builds its
own app and database pool after the fork (no preload), so no connection is shared between processes.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from fxticker.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    threads: int = 4
    graceful_timeout: int = 30
    timeout: int = 60


def _child_exit(_server: Any, worker: Any) -> None:
    # A dead worker's live gauges must not linger; its counters stay summed (prometheus_client's advice).
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def _worker_exit(_server: Any, worker: Any) -> None:
    """A worker that stops closes its app's database pool: its connections end now, not at a timeout."""
    # Imported here like create_app below: prometheus_client, which fxticker.web imports, must not be
    # imported before prepare_metrics_dir has named its directory.
    from fxticker.web import db as web_db

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
            "worker_class": "gthread",
            "threads": o.threads,
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
        return create_app(conf=self.conf)


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
    log.info("serving on %s:%d with %d worker(s)", options.host, options.port, options.workers)
    try:
        FxtickerApplication(options, replace(conf, prometheus_multiproc_dir=metrics_dir)).run()
    finally:
        if created_here:
            shutil.rmtree(metrics_dir, ignore_errors=True)
