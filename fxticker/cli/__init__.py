"""The command line: `main`, whose commands are each imported from their own module only when they run.

A command pays for its own imports and no other's: `fxticker parse` of files starts without the HTTP
client, and without the database driver unless DATABASE_URL is set (libpq checks it), which take longer
to import than a hundred small pages take to parse. What the command modules share (settings, one-line
errors, date options) is in cli_common, and the database's part of it in cli_database.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Mapping
from typing import Any

import click

from fxticker import __version__, settings
from fxticker.cli.common import fail

# Each command's name and where its click command is: "module:attribute".
COMMANDS = {
    "backfill": "fxticker.cli.backfill_cmd:backfill",
    "db": "fxticker.cli.db_cmd:db_group",
    "export": "fxticker.cli.export_cmd:export_csv",
    "ingest": "fxticker.cli.ingest_cmd:ingest",
    "migrate": "fxticker.cli.db_cmd:migrate",
    "official": "fxticker.cli.official_cmd:official_group",
    "parse": "fxticker.cli.parse_cmd:parse",
    "quality": "fxticker.cli.quality_cmd:quality",
    "sample": "fxticker.cli.ingest_cmd:sample",
    "schedule": "fxticker.cli.schedule_cmd:schedule",
    "scrape": "fxticker.cli.scrape_cmd:scrape",
    "serve": "fxticker.cli.serve_cmd:serve",
}


class LazyGroup(click.Group):
    """A group whose commands are imported when asked for (click's "Lazily Loading Subcommands").

    `--help` asks for every command, for its short help; running one asks for that one only.
    """

    def __init__(self, *args: Any, lazy: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.lazy:
            return super().get_command(ctx, cmd_name)
        module, name = self.lazy[cmd_name].split(":")
        command = getattr(importlib.import_module(module), name)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.lazy[cmd_name]} is not a click command")
        return command


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fxticker")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Track Central Asian currency rates from the Times of Central Asia ticker."""
    # Every setting is checked before any command runs: a bad one stops every command with its one line.
    try:
        ctx.obj = settings.load()
    except settings.SettingError as exc:
        fail(str(exc))
    logging.basicConfig(
        level=ctx.obj.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
