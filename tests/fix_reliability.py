"""Helpers for the reliability tests: the figures they record for docs/benchmarks.md."""

from __future__ import annotations

import json
import os
from pathlib import Path

# benchmarks/run.py (reliability_figures) reads every JSON file here into the report's Reliability table.
RELIABILITY_DIR = Path(__file__).resolve().parent.parent / "test-output" / "reliability"


def record_figure(key: str, figure: str, value: object, detail: str) -> Path:
    """Write test-output/reliability/<key>.json as {"figure", "value", "detail"}; a re-run replaces it."""
    RELIABILITY_DIR.mkdir(parents=True, exist_ok=True)
    path = RELIABILITY_DIR / f"{key}.json"
    partial = path.with_name(f".{key}.{os.getpid()}.tmp")
    partial.write_text(json.dumps({"figure": figure, "value": value, "detail": detail}, indent=2) + "\n",
                       encoding="utf-8")
    # Renamed into place so that the bench runner never reads a half-written file.
    partial.replace(path)
    return path
