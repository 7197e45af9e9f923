"""`fxticker schedule`: scrapes, official rates and backfill on a timer."""

from __future__ import annotations

import click

from fxticker import scheduler
from fxticker.cli.common import current_settings
from fxticker.cli.connection import database_errors
from fxticker.storage import cluster


@click.command()
@database_errors
def schedule() -> None:
    """Scrape every FXTICKER_INTERVAL seconds until stopped; one process acts, the others stand by."""
    conf = current_settings()
    scheduler.run(cluster.database_url(conf), conf)
