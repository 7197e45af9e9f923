"""The command line imports what the command run needs: `fxticker parse` of files starts without the
database driver, the HTTP client or the process pool, which take longer to import than it takes to parse
a hundred small pages (the whole-command parse benchmark)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
from pytest_httpserver import HTTPServer

import fxticker
from fxticker.cli import COMMANDS, main
from tests.pages import FIVE, text_page

SAMPLES = Path(fxticker.__file__).resolve().parent / "samples"
# Packages a parse of files never uses (each is imported by other commands).
HEAVY = {"psycopg", "httpx", "tenacity", "multiprocessing", "hashlib", "flask", "pandas",
         "fxticker.collect.fetcher", "fxticker.storage.cluster", "fxticker.storage.observations",
         "fxticker.collect.ingest", "fxticker.export.tables"}

# Runs the command line in a fresh interpreter, then says on stderr's last line what it had imported.
PROBE = """
import json, sys
from fxticker.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    status = exc.code
names = set(sys.modules) | {name.split(".")[0] for name in sys.modules}
print(json.dumps({"status": status, "imported": sorted(names)}), file=sys.stderr)
"""


def probe(*args: str, env: dict[str, str] | None = None) -> tuple[int, set[str], str, str]:
    """The exit status, the modules imported, the standard output and error of `fxticker ARGS`."""
    plain = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "FXTICKER_"))}
    result = subprocess.run([sys.executable, "-c", PROBE, *args], env={**plain, **(env or {})},
                            capture_output=True, text=True, timeout=60)
    *errors, last = result.stderr.splitlines()
    report = json.loads(last)
    return report["status"], set(report["imported"]), result.stdout, "".join(f"{e}\n" for e in errors)


def test_parse_of_files_imports_no_database_driver_no_http_client_and_no_process_pool() -> None:
    status, imported, out, err = probe("parse", "--date", "2025-12-19", str(SAMPLES))
    pages = len(list(SAMPLES.glob("*.txt")))
    assert (status, err) == (0, "")
    assert len({json.loads(line)["source"] for line in out.splitlines()}) == pages > 100
    assert "fxticker.ticker" in imported  # the probe sees what was imported
    assert imported & HEAVY == set()


def test_parse_of_a_url_fetches_it_with_the_http_client(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/page").respond_with_data(text_page(), content_type="text/plain")
    status, imported, out, err = probe("parse", httpserver.url_for("/page"),
                                      env={"FXTICKER_LOG_LEVEL": "WARNING"})
    assert (status, err) == (0, "")
    assert [json.loads(line)["currency"] for line in out.splitlines()] == [c for c, _, _ in FIVE]
    assert {"httpx", "fxticker.collect.fetcher"} <= imported
    assert imported & {"psycopg", "fxticker.storage.cluster", "fxticker.storage.observations"} == set()


def test_version_imports_no_command() -> None:
    status, imported, out, _ = probe("--version")
    assert (status, out) == (0, f"fxticker, version {fxticker.__version__}\n")
    assert {name for name in imported if name.startswith("fxticker.cli.")} == {"fxticker.cli.common"}
    assert imported & HEAVY == set()


def test_a_set_database_url_is_still_checked_before_parse_runs_and_never_connected_to() -> None:
    status, _, out, err = probe("parse", str(SAMPLES), env={"DATABASE_URL": "host=a port"})
    assert (status, out) == (1, "")
    assert err.startswith("fxticker: DATABASE_URL=(not shown): not a libpq connection string")
    # A well-formed URL of a host that does not exist: parse reads it (libpq's check) and goes on.
    status, imported, out, err = probe("parse", "--date", "2025-12-19", str(SAMPLES),
                                       env={"DATABASE_URL": "postgresql://nobody@unused.invalid/none"})
    assert (status, err) == (0, "") and out.count("\n") > 100
    assert "psycopg" in imported and "fxticker.storage.cluster" not in imported


def test_every_command_is_found_under_its_own_name() -> None:
    ctx = click.Context(main, info_name="fxticker")
    found = {name: main.get_command(ctx, name) for name in main.list_commands(ctx)}
    assert set(found) == set(COMMANDS)
    assert {name: command.name if command else None for name, command in found.items()} == {
        name: name for name in COMMANDS}
    assert main.get_command(ctx, "nonsense") is None
