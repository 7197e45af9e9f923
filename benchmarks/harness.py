"""The benchmark harness: a scratch database cluster, a served app, timings, and rows of the report.

Every benchmark times fxticker and a floor (the simplest way to do the same work) in the same run on the
same machine, and reports the ratio of medians; absolute numbers on a shared two-core machine are noise,
ratios measured side by side are not.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from fxticker.storage import cluster as db
from fxticker.storage import observations

# The benchmarks start fxticker serve as the tests do (make test runs them both).
from tests.fix_serve import children, free_port, stop_gracefully, wait_until_serving

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Row:
    """One line of the report: fxticker's median against the floor's, at one size."""

    bench: str
    size: str
    subject: str
    value: float
    floor_name: str
    floor: float | None
    unit: str = "s"
    target: float | None = None  # the largest acceptable ratio value / floor, when there is one
    extra: str = ""
    lower_is_better: bool = True

    @property
    def ratio(self) -> float | None:
        if self.floor is None or self.floor == 0:
            return None
        return self.value / self.floor

    @property
    def verdict(self) -> str:
        if self.target is None or self.ratio is None:
            return ""
        return "met" if self.ratio <= self.target else "NOT MET"


def median(values: list[float]) -> float:
    return statistics.median(values)


def timed(func: Callable[[], object], runs: int, *, warmup: int = 1) -> list[float]:
    """Wall-clock seconds of `runs` calls of func, after `warmup` untimed calls."""
    for _ in range(warmup):
        func()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return times


def interleaved(subject: Callable[[], object], floor: Callable[[], object], runs: int,
                *, warmup: int = 1) -> tuple[list[float], list[float]]:
    """Time subject and floor alternately, so that a slow spell of the machine hits both alike."""
    subject_times, floor_times = rounds([subject, floor], runs, warmup=warmup)
    return subject_times, floor_times


def rounds(funcs: list[Callable[[], object]], runs: int, *, warmup: int = 1) -> list[list[float]]:
    """Wall-clock seconds of each of funcs, called in turn `runs` times after `warmup` untimed rounds."""
    for _ in range(warmup):
        for func in funcs:
            func()
    times: list[list[float]] = [[] for _ in funcs]
    for _ in range(runs):
        for func, kept in zip(funcs, times, strict=True):
            start = time.perf_counter()
            func()
            kept.append(time.perf_counter() - start)
    return times


def peak_rss_kib(pid: int) -> int:
    """The process's peak resident memory (VmHWM) so far, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmHWM for process {pid}")


@dataclass
class Served:
    """A running `fxticker serve`: its base URL, the gunicorn master and worker process ids."""

    base: str
    process: subprocess.Popen[bytes]

    @property
    def workers(self) -> list[int]:
        return children(self.process.pid)


@dataclass
class Context:
    """What every benchmark gets: a scratch directory, a cluster of its own, and the run's size."""

    work: Path
    quick: bool
    runs: int
    _cluster: db.EmbeddedCluster | None = field(default=None, repr=False)
    _databases: int = 0
    # What one benchmark leaves for the next (the scale size's ingested database).
    shared: dict[str, object] = field(default_factory=dict)

    @property
    def cluster(self) -> db.EmbeddedCluster:
        if self._cluster is None:
            root = self.work / "cluster"
            root.mkdir(parents=True, exist_ok=True)
            # When we are root the server runs as 'postgres', which must reach the directory.
            self.work.chmod(0o755)
            root.chmod(0o755)
            self._cluster = db.EmbeddedCluster(root, db._pg_bindir())
            self._cluster.start()
        return self._cluster

    def database(self, prefix: str = "bench") -> str:
        """The URL of a new, migrated, empty database."""
        self._databases += 1
        name = f"{prefix}_{self._databases}"
        with psycopg.connect(self.cluster.url("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        url = self.cluster.url(name)
        with psycopg.connect(url) as conn:
            observations.migrate(conn)
        return url

    def env(self, url: str, **extra: str) -> dict[str, str]:
        """The environment for an fxticker subprocess working on the database at url."""
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "FXTICKER_"))}
        environ.update(DATABASE_URL=url, FXTICKER_DATA_DIR=str(self.work / "unused-embedded"),
                       FXTICKER_LOG_LEVEL="WARNING", **extra)
        return environ

    def fxticker(self, url: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "fxticker", *args], env=self.env(url),
                              capture_output=True, text=True, check=check)

    def psql(self, url: str, command: str, *, stdin: Path | None = None) -> str:
        """Run one psql command (e.g. a \\copy) against url; its standard output."""
        psql = shutil.which("psql") or str(db._pg_bindir() / "psql")
        with contextlib.ExitStack() as stack:
            source = stack.enter_context(stdin.open("rb")) if stdin else subprocess.DEVNULL
            result = subprocess.run([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", command],
                                    stdin=source, capture_output=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"psql {command!r} failed: {result.stderr.decode(errors='replace')}")
        return result.stdout.decode()

    @contextlib.contextmanager
    def serve(self, url: str, *, workers: int = 2) -> Iterator[Served]:
        """`fxticker serve` on a free loopback port against url, until the block ends."""
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "fxticker", "serve", "--port", str(port), "--workers", str(workers)],
            env=self.env(url, PROMETHEUS_MULTIPROC_DIR=str(self.work / f"metrics-{port}")),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        served = Served(f"http://127.0.0.1:{port}", process)
        wait_until_serving(served.base, process, lambda: process.communicate()[1][-2000:].decode(),
                           seconds=60)
        try:
            yield served
        finally:
            stop_gracefully(process)

    def close(self) -> None:
        if self._cluster is not None:
            self._cluster.stop("immediate")


@contextlib.contextmanager
def context(*, quick: bool, runs: int) -> Iterator[Context]:
    work = Path(tempfile.mkdtemp(prefix="fxt-bench-"))
    ctx = Context(work=work, quick=quick, runs=runs)
    try:
        yield ctx
    finally:
        ctx.close()
        shutil.rmtree(work, ignore_errors=True)
