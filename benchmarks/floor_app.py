"""The serving floor: `fxticker serve`'s gunicorn, workers and limits, serving a WSGI app that does nothing.

    python -m benchmarks.floor_app --port N [--flask]

The app answers every request with the bytes /livez answers, without Flask (or, with --flask, from a
one-route Flask app), so that a load on it measures what the server itself costs, with the same worker
class, threads, keep-alive and request limits as fxticker's own serve.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import click

from fxticker import settings
from fxticker.serve import FxtickerApplication, ServeOptions

BODY = b'{"status":"alive"}\n'
_HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def bare(_environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", _HEADERS)
    return [BODY]


def one_route_flask() -> Any:
    from flask import Flask, jsonify

    app = Flask("floor")
    for path in ("/livez", "/healthz"):  # /healthz: what the harness asks before it loads a server
        app.get(path, endpoint=path)(lambda: jsonify({"status": "alive"}))
    return app


class FloorApplication(FxtickerApplication):
    """fxticker's gunicorn configuration, loading the floor's app instead of fxticker's."""

    def __init__(self, options: ServeOptions, conf: settings.Settings, *, flask: bool) -> None:
        self.flask = flask
        super().__init__(options, conf)

    def load_config(self) -> None:
        super().load_config()
        # fxticker's hook closes its app's database pool; the floor's apps have none.
        self.cfg.set("worker_exit", _no_pool)

    def load(self) -> Any:
        return one_route_flask() if self.flask else bare


def _no_pool(_server: Any, _worker: Any) -> None:
    """A worker of the floor leaves nothing to close."""


@click.command()
@click.option("--port", type=int, required=True)
@click.option("--workers", type=int, default=2)
@click.option("--flask", is_flag=True, help="A one-route Flask app instead of a bare WSGI function.")
def main(port: int, workers: int, flask: bool) -> None:
    FloorApplication(ServeOptions(port=port, workers=workers), settings.load(), flask=flask).run()


if __name__ == "__main__":
    main()
