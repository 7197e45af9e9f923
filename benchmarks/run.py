"""Run the benchmarks, print a table of medians and ratios, and write docs/benchmarks.md.

    python -m benchmarks.run                 # everything, full sizes (make bench)
    python -m benchmarks.run --quick         # small sizes and short loads: a smoke run
    python -m benchmarks.run --only parse,api
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import click
import psycopg

from benchmarks.harness import ROOT, Context, Row, context

BENCHMARKS = ("parse", "ingest", "api", "peer", "export", "dashboard", "quality")
RELIABILITY_DIR = ROOT / "test-output" / "reliability"


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"benchmarks.bench_{name}")


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value:.3f} s" if value < 100 else f"{value:.0f} s"
    if unit == "ms":
        return f"{value:.2f} ms"
    if unit == "KiB":
        return f"{value:,.0f} KiB"
    if unit == "B":
        return f"{value:,.0f} B"
    return f"{value:,.3g} {unit}"


def _cells(row: Row) -> list[str]:
    ratio = f"{row.ratio:.2f}x" if row.ratio is not None else "-"
    target = f"<= {row.target:g}x" if row.target is not None else "-"
    return [row.bench, row.size, row.subject, _fmt(row.value, row.unit), row.floor_name,
            _fmt(row.floor, row.unit), ratio, target, row.verdict, row.extra]


HEADER = ["benchmark", "size", "fxticker", "median", "floor", "floor median", "ratio", "target", "verdict",
          "throughput and notes"]


def markdown_table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in _cells(r)) + " |" for r in rows]
    return "\n".join(lines)


def print_row(row: Row) -> None:
    cells = _cells(row)
    click.echo(f"{cells[0]:<10} {cells[1]:<28} {cells[3]:>12} vs {cells[5]:>12} {cells[6]:>8} "
               f"{cells[7]:>8} {cells[8]:<8} {cells[9]}")


def _command_output(*command: str) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "unknown"


def machine(ctx: Context) -> list[tuple[str, str]]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown")
    mem_kib = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                       if line.startswith("MemTotal:")))
    with psycopg.connect(ctx.cluster.url("postgres")) as conn:
        server = conn.execute("SHOW server_version").fetchone()
        tsdb = conn.execute(
            "SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'").fetchone()
    return [
        ("CPU", f"{cpu}, {os.cpu_count()} cores"),
        ("memory", f"{mem_kib / 1024 / 1024:.1f} GiB"),
        ("system", f"{platform.system()} {platform.release()}, "
                   f"{_command_output('sh', '-c', '. /etc/os-release && echo $PRETTY_NAME')}"),
        ("Python", platform.python_version()),
        ("PostgreSQL", str(server[0]) if server else "unknown"),
        ("TimescaleDB", f"{tsdb[0] if tsdb else 'unknown'} (Apache-2 edition)"),
        ("wrk", _command_output("sh", "-c", "wrk -v 2>&1 | head -n 1") or "not installed"),
    ]


def reliability_figures() -> list[dict[str, object]]:
    """The figures the reliability tests recorded (make reliability), oldest file first."""
    if not RELIABILITY_DIR.is_dir():
        return []
    files = sorted(RELIABILITY_DIR.glob("*.json"), key=lambda p: p.stat().st_mtime)
    return [json.loads(p.read_text()) for p in files]


def report(ctx: Context, rows: list[Row], names: list[str], started: dt.datetime, seconds: float,
           command: str) -> str:
    parts = [
        "# Benchmarks",
        "",
        f"Written by `{command}` on {started:%Y-%m-%d %H:%M} UTC in {seconds / 60:.1f} minutes. "
        "Every benchmark times fxticker and a *floor* (the plainest way to do the same work) in the same "
        f"run, on the same machine, each {ctx.runs} times after a warm-up, interleaved where it can be; "
        "the ratio is of the medians. Absolute figures on a shared two-core machine vary from run to run; "
        "the ratios are what to compare.",
        "",
        "## Machine",
        "",
        "| what | value |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in machine(ctx)],
        "",
        "## Results",
        "",
        markdown_table(rows),
        "",
    ]
    for name in names:
        notes = getattr(_module(name), "NOTES", "").strip()
        if notes:
            parts += [f"### {name}", "", notes, ""]
    figures = reliability_figures()
    parts += ["## Reliability", ""]
    if figures:
        parts += [
            "Recorded by the reliability tests (`make reliability`, also part of `make test`) in the same "
            "`make bench` run.",
            "",
            "| figure | value | how |",
            "|---|---|---|",
            *[f"| {f['figure']} | {f['value']} | {f['detail']} |" for f in figures],
            "",
        ]
    else:
        parts += ["No reliability figures: run `make reliability` first (`make bench` does).", ""]
    return "\n".join(parts)


@click.command()
@click.option("--quick", is_flag=True, help="Small sizes and short loads: a smoke run, not a measurement.")
@click.option("--only", default=",".join(BENCHMARKS), show_default=True, help="Benchmarks to run.")
@click.option("--runs", type=click.IntRange(1, 50), default=None,
              help="Timed runs of each (default 5; 2 with --quick).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              default=ROOT / "docs" / "benchmarks.md", show_default=True, help="Markdown report to write.")
def main(quick: bool, only: str, runs: int | None, report_path: Path) -> None:
    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        raise click.BadParameter(f"unknown benchmark(s) {', '.join(unknown)}; choose from "
                                 f"{', '.join(BENCHMARKS)}", param_hint="--only")
    started = dt.datetime.now(dt.UTC)
    clock = time.monotonic()
    rows: list[Row] = []
    with context(quick=quick, runs=runs or (2 if quick else 5)) as ctx:
        for name in names:
            click.echo(f"== {name}", err=True)
            for row in _module(name).run(ctx):
                print_row(row)
                rows.append(row)
        command = "python -m benchmarks.run" + (" --quick" if quick else "") + (
            f" --only {only}" if names != list(BENCHMARKS) else "")
        text = report(ctx, rows, names, started, time.monotonic() - clock, command)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(text)
    click.echo(f"wrote {report_path}", err=True)
    missed = [r for r in rows if r.verdict == "NOT MET"]
    if missed:
        click.echo(f"{len(missed)} target(s) not met: see the notes in {report_path}", err=True)


if __name__ == "__main__":
    sys.exit(main())
