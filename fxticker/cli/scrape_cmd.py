"""`fxticker scrape`: one scrape run over the sources, now."""

from __future__ import annotations

import sys

import click

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
