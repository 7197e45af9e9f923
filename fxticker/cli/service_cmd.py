"""`fxticker scrape`, `schedule` and `serve`: the commands that run the scraper and the web app."""

from __future__ import annotations

import sys

import click

from fxticker import scheduler, settings
from fxticker import serve as serving
from fxticker.cli.common import current_settings, fail
from fxticker.cli.connection import connect, database_errors
from fxticker.collect.scrape import ScrapeConfig, Scraper
from fxticker.storage import cluster, observations


@click.command()
@database_errors
def scrape() -> None:
    """Scrape every FXTICKER_SOURCES page once, now; one line per source, exit 1 if any failed."""
    conf = current_settings()
    config = ScrapeConfig.from_settings(conf)
    url = cluster.database_url(conf)
    with connect() as conn:
        observations.migrate(conn)
    scraper = Scraper(url, config)
    try:
        record = scraper.run()
    finally:
        scraper.close()
    for result in record.results:
        click.echo(result.line())
    if record.database_error:
        state = "recorded" if record.recorded else "not recorded"
        fail(f"{record.error} (run {state}: {len(record.results)} of {record.sources_total} "
             "source(s) attempted)")
    if record.error:
        click.echo(f"fxticker: {record.error}", err=True)
    sys.exit(0 if record.status == "ok" else 1)


@click.command()
@database_errors
def schedule() -> None:
    """Scrape every FXTICKER_INTERVAL seconds until stopped; one process acts, the others stand by."""
    conf = current_settings()
    scheduler.run(cluster.database_url(conf), conf)


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
