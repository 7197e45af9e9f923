"""`fxticker serve`'s options, and its metrics directory emptied of its own files only."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from fxticker import serve as serving
from fxticker.cli import main


def test_serve_keeps_its_options() -> None:
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--workers", "--graceful-timeout"):
        assert option in result.output


def test_serve_empties_only_the_metrics_files_of_its_directory(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "shared"
    (shared / "sub").mkdir(parents=True)
    (shared / "counter_4242.db").write_bytes(b"a previous run's counters")
    (shared / "notes.txt").write_text("an operator's file")
    # prepare_metrics_dir names the directory in the environment for prometheus_client; undone after.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(shared))
    assert serving.prepare_metrics_dir(shared) == shared
    assert sorted(p.name for p in shared.iterdir()) == ["notes.txt", "sub"]
