"""`fxticker db` (the embedded cluster) and `fxticker migrate`."""

from __future__ import annotations

import sys

import click

from fxticker.cli.common import current_settings, writing_stdout
from fxticker.cli.connection import connect, database_errors
from fxticker.storage import cluster as db
from fxticker.storage import observations as store


@click.group("db")
def db_group() -> None:
    """Manage the embedded PostgreSQL cluster (used when DATABASE_URL is unset)."""


def _embedded() -> db.EmbeddedCluster:
    conf = current_settings()
    if conf.database_url:
        raise ValueError("DATABASE_URL is set: fxticker uses that server, not an embedded one")
    return db.EmbeddedCluster.from_settings(conf)


@db_group.command("start")
@database_errors
def db_start() -> None:
    """Create (first time) and start the embedded cluster."""
    cluster = _embedded()
    cluster.start()
    click.echo(f"embedded PostgreSQL running in {cluster.pgdata}", err=True)


@db_group.command("stop")
@database_errors
def db_stop() -> None:
    """Stop the embedded cluster."""
    _embedded().stop()
    click.echo("embedded PostgreSQL stopped", err=True)


@db_group.command("status")
@database_errors
def db_status() -> None:
    """Say whether the embedded cluster runs; exit 1 when it does not."""
    cluster = _embedded()
    if cluster.running():
        click.echo(f"running: {cluster.pgdata}")
    else:
        state = "stopped" if cluster.initialized() else "not created"
        click.echo(f"{state}: {cluster.pgdata}")
        sys.exit(1)


@db_group.command("url")
@database_errors
def db_url() -> None:
    """Print the embedded cluster's libpq URL (for psql)."""
    url = _embedded().url()
    with writing_stdout():
        click.echo(url)


@click.command()
@database_errors
def migrate() -> None:
    """Apply the schema migrations in sql/ that are not applied yet."""
    with connect() as conn:
        applied = store.migrate(conn)
    click.echo(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else ""),
               err=True)
