"""Where a load's tail comes from: many short wrk rounds against `fxticker serve`, each round's p99 and
maximum beside what the workers themselves measured (their request-duration histogram) and what
PostgreSQL logged (statements over 100 ms, checkpoints, autovacuum) during that round.

    python -m benchmarks.tails [--rounds 24] [--seconds 10] [--path /v1/latest]

A tail that wrk sees and the workers' histogram does not is not the app's: it is time before a worker
took the request or after it answered (the server, the kernel, the load generator). One the histogram
sees too is the app's, and PostgreSQL's log says whether the database was the slow part.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import click
import httpx
import psycopg

from benchmarks import data
from benchmarks.bench_api import connections_per_process
from benchmarks.harness import context

_BUCKET = re.compile(r'fxticker_http_request_duration_seconds_bucket\{endpoint="([^"]+)",le="([^"]+)",'
                     r'method="GET"\} ([0-9.e+]+)')


def slow_counts(base: str, endpoint: str) -> dict[str, float]:
    """The workers' cumulative request counts by upper bound for endpoint (its URL rule)."""
    text = httpx.get(base + "/metrics", timeout=30).text
    return {le: float(n) for rule, le, n in _BUCKET.findall(text) if rule == endpoint}


_TICKS = os.sysconf("SC_CLK_TCK")


def autogroup() -> str:
    """Whether the kernel schedules by session (sched_autogroup): each session's processes share one
    slot of the cores, so PostgreSQL's backends (pg_ctl starts their own session) share one between them."""
    try:
        return "on" if Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1" else "off"
    except OSError:
        return "?"


def cpu_seconds() -> tuple[float, float]:
    """The machine's busy CPU seconds, and those of the processes under test (gunicorn's, PostgreSQL's
    and wrk's), so far: the difference over a round is what everything else took of the cores."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    busy = (user + nice + system + irq + softirq + steal) / _TICKS
    ours = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        if name in ("postgres", "wrk") or (b"fxticker" in cmdline and b"serve" in cmdline):
            parts = text.rsplit(")", 1)[1].split()
            ours += (int(parts[11]) + int(parts[12])) / _TICKS
    return busy, ours


def wrk_tail(url: str, seconds: int) -> tuple[float, float, float, tuple[int, ...]]:
    """wrk's p50, p99 and maximum in ms, and its connections per gunicorn worker halfway through."""
    process = subprocess.Popen(["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", url],
                               stdout=subprocess.PIPE, text=True)
    time.sleep(seconds / 2)
    spread = connections_per_process(int(urlsplit(url).port or 80))
    out, _ = process.communicate()
    units = {"us": 0.001, "ms": 1.0, "s": 1000.0}

    def ms(pattern: str) -> float:
        found = re.search(pattern, out, re.MULTILINE)
        if not found:
            raise RuntimeError(out)
        return float(found[1]) * units[found[2]]

    return (ms(r"^\s*50%\s+([0-9.]+)(us|ms|s)"), ms(r"^\s*99%\s+([0-9.]+)(us|ms|s)"),
            ms(r"^\s*Latency\s+\S+\s+\S+\s+([0-9.]+)(us|ms|s)"), spread)


@click.command()
@click.option("--rounds", default=24, show_default=True)
@click.option("--seconds", default=10, show_default=True)
@click.option("--path", default="/v1/latest", show_default=True)
@click.option("--rule", default="/v1/latest", show_default=True, help="The path's URL rule in /metrics.")
def main(rounds: int, seconds: int, path: str, rule: str) -> None:
    with context(quick=False, runs=1) as ctx:
        url = ctx.database("tails")
        data.generate(url, data.currencies(5), 365, end=dt.date.today())
        with psycopg.connect(ctx.cluster.url("postgres"), autocommit=True) as conn:
            for setting, value in (("log_min_duration_statement", "50"), ("log_checkpoints", "on"),
                                   ("log_autovacuum_min_duration", "0"), ("log_lock_waits", "on"),
                                   ("deadlock_timeout", "50ms")):
                conn.execute(f"ALTER SYSTEM SET {setting} = '{value}'")
            conn.execute("SELECT pg_reload_conf()")
        log = ctx.cluster.logfile
        click.echo(f"server log: {log} ({'present' if log.exists() else 'missing'})")
        with ctx.serve(url) as served:
            for _ in range(32):
                httpx.get(served.base + path, timeout=30).raise_for_status()
            for n in range(1, rounds + 1):
                before = slow_counts(served.base, rule)
                mark = log.stat().st_size
                busy, ours = cpu_seconds()
                p50, p99, worst, spread = wrk_tail(served.base + path, seconds)
                busy_after, ours_after = cpu_seconds()
                others = (busy_after - busy) - (ours_after - ours)
                after = slow_counts(served.base, rule)
                total = after.get("+Inf", 0) - before.get("+Inf", 0)
                over = {le: total - (after.get(le, 0) - before.get(le, 0)) for le in ("0.025", "0.1", "0.25")}
                logged = ""
                if log.exists():
                    with log.open("rb") as f:
                        f.seek(mark)
                        logged = " | ".join(line.decode(errors="replace").strip()[:160]
                                            for line in f.read().splitlines() if b"LOG:" in line)
                click.echo(f"round {n:2}: p50 {p50:6.2f} ms  p99 {p99:7.2f} ms  max {worst:7.1f} ms  "
                           f"app: {total:.0f} requests, over 25 ms {over['0.025']:.0f}, over 100 ms "
                           f"{over['0.1']:.0f}, over 250 ms {over['0.25']:.0f}; "
                           f"other processes' CPU {others:.1f} s; connections per worker "
                           f"{'/'.join(map(str, spread)) or '?'}; autogroup {autogroup()}  "
                           f"{logged}")


if __name__ == "__main__":
    main()
