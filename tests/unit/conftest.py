"""The fast tier: tests that need no database, server, browser or subprocess (`make test-unit`).

The whole tree's fixtures are registered for these tests too (tests/conftest.py), so nothing stops one of
them from asking for the session's cluster by accident; this conftest does, loudly:
- a test here that asks for a fixture which starts a database, a server or a browser (even through
  another fixture) stops the collection with its name, before anything starts;
- a test here that starts a process or opens a database connection fails at once, naming what it did.
"""

from __future__ import annotations

import multiprocessing.process
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import psycopg
import pytest

HERE = Path(__file__).resolve().parent

# Fixtures that start what this tier runs without (tests.fix_db, tests.fix_api, pytest-httpserver,
# tests.fix_browser), with what they start.
REFUSED = {
    "cluster": "the test database cluster",
    "module_db_url": "the test database cluster",
    "httpserver": "an HTTP server",
    "make_httpserver": "an HTTP server",
    "browser": "a browser",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    wrong = [
        f"  {item.nodeid} asks for {name} ({REFUSED[name]})"
        for item in items
        if HERE in item.path.parents
        for name in getattr(item, "fixturenames", ())
        if name in REFUSED
    ]
    if wrong:
        raise pytest.UsageError("tests/unit/ runs without a database, server, browser or subprocess; "
                                "move these tests to tests/:\n" + "\n".join(wrong))


def _refuse(what: str) -> Callable[..., NoReturn]:
    def refused(*args: Any, **kwargs: Any) -> NoReturn:
        raise AssertionError(f"a test in tests/unit/ {what}; it belongs in tests/")

    return refused


@pytest.fixture(autouse=True)
def _no_process_and_no_database(monkeypatch: pytest.MonkeyPatch) -> None:
    # Popen is what subprocess.run, the cluster's pg_ctl and chromedriver all go through; BaseProcess.start
    # what multiprocessing and a ProcessPoolExecutor (the bulk parse) go through.
    monkeypatch.setattr(subprocess, "Popen", _refuse("starts a process"))
    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", _refuse("starts a process"))
    # psycopg.connect is a second name for Connection.connect, which the pools call.
    monkeypatch.setattr(psycopg, "connect", _refuse("connects to a database"))
    monkeypatch.setattr(psycopg.Connection, "connect", _refuse("connects to a database"))
