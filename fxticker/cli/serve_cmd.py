"""`fxticker serve`: the web app and API under gunicorn."""

from __future__ import annotations

import click

from fxticker import serve as serving
from fxticker import settings
from fxticker.cli.common import current_settings
from fxticker.cli.connection import database_errors
from fxticker.storage import cluster


@click.command()
@click.option("--host", default=serving.ServeOptions.host, show_default=True)
@click.option("--port", default=serving.ServeOptions.port, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", type=click.IntRange(settings.WORKERS.low, settings.WORKERS.high), default=None,
              help="Gunicorn worker processes.  [default: FXTICKER_WORKERS]")
@click.option("--graceful-timeout", default=serving.ServeOptions.graceful_timeout, show_default=True,
              type=click.IntRange(1, 3600),
              help="Seconds requests in flight get to finish after SIGTERM.")
@database_errors
def serve(host: str, port: int, workers: int | None, graceful_timeout: int) -> None:
    """Serve the web app and API with gunicorn; SIGTERM stops it gracefully."""
    conf = current_settings()
    cluster.database_url(conf)  # start the embedded database before the workers need it
    serving.run(serving.ServeOptions(host=host, port=port, workers=workers or conf.workers,
                                     graceful_timeout=graceful_timeout), conf)
