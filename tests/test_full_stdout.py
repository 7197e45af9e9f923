"""Commands that print data to a full disk (/dev/full) say so in one line and exit 1, without a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bank_answers import BANKS


@pytest.mark.parametrize("args", [["db", "url"],
                                  ["official", "parse", "nbk", str(BANKS / "nbk-2026-04-01.xml")]],
                         ids=lambda args: " ".join(args[:2]))
def test_printing_to_a_full_disk_is_one_line(args: list[str], tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "FXTICKER_DATA_DIR": str(tmp_path / "db")}
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "fxticker", *args], env=env, stdout=full,
                                stderr=subprocess.PIPE, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert result.stderr == "fxticker: cannot write to standard output: No space left on device\n"
