"""The benchmarks, run small (`--quick`): every benchmark still runs end to end and reports a ratio.

The real measurement is `make bench`; this keeps its code from rotting between measurements.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.harness import ROOT
from benchmarks.run import BENCHMARKS

pytestmark = pytest.mark.slow


def test_a_quick_run_reports_every_benchmark_with_ratios(tmp_path: Path) -> None:
    report = tmp_path / "benchmarks.md"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--runs", "1", "--report", str(report)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    text = report.read_text()
    assert "## Machine" in text and "TimescaleDB" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and " | " in line]
    for name in BENCHMARKS:
        named = [r for r in rows if r.startswith(f"| {name} |")]
        assert len(named) >= 2, f"{name}: expected rows at two sizes, got {named}"
        ratios = [float(m) for r in named for m in re.findall(r"\| ([0-9]+\.[0-9]+)x \|", r)]
        assert ratios and all(r > 0 for r in ratios), f"{name}: no ratio against a floor in {named}"
    # The table printed on stdout as the run goes, one line per row of the report.
    assert sum(line.split()[0] in BENCHMARKS for line in result.stdout.splitlines() if line.split()) >= 10
