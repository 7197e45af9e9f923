"""Load: 32 clients against a real `fxticker serve --workers 2`, steady and across a restart.

The server and its database are this module's own (tests.fix_scrape.own_cluster), so stopping the database
does not disturb the session's shared cluster. Clients are threads with one httpx client each, looping
over a mix of API endpoints until a deadline; every answer is recorded with when it was sent.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from fxticker.storage import cluster as db
from tests.fix_reliability import record_figure
from tests.fix_scrape import own_cluster, quotes
from tests.fix_serve import free_port, stop_gracefully, wait_until_serving
from tests.pages import text_page

pytestmark = [pytest.mark.reliability, pytest.mark.slow, pytest.mark.timing]

CLIENTS = 32
STEADY_SECONDS = 60.0
# While the database is down a request may wait for the pool (5 s) behind others that wait too: a
# client gives up only after this long, and then it counts as a hang.
CLIENT_TIMEOUT = 30.0
DAYS = 60


def _json(response: httpx.Response) -> object:
    assert response.headers["content-type"].startswith("application/json")
    return json.loads(response.content)


def _rates_list(response: httpx.Response) -> bool:
    body = _json(response)
    return isinstance(body, list) and len(body) > 0 and all("rate" in row for row in body)


def _v1_latest(response: httpx.Response) -> bool:
    body = _json(response)
    base = response.request.url.params.get("base", "USD")
    return isinstance(body, dict) and body.get("base") == base and len(body.get("rates", {})) == 5


def _observations(response: httpx.Response) -> bool:
    body = _json(response)
    # Two currencies over the seven days 5..11 October.
    return isinstance(body, list) and len(body) == 14 and {row["currency"] for row in body} == {"KZT", "UZS"}


def _csv(response: httpx.Response) -> bool:
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    return rows[0][0] == "date" and len(rows) == 1 + 14


def _health(response: httpx.Response) -> bool:
    body = _json(response)
    return isinstance(body, dict) and body.get("database") == "ok" and body.get("observations") == DAYS * 5


# The mix: each client walks this list from its own offset. Dates fall inside the stored range.
ENDPOINTS: list[tuple[str, Callable[[httpx.Response], bool]]] = [
    ("/v2/rates", _rates_list),
    ("/v2/rates?base=KZT&quotes=UZS,TJS&from=2025-10-01&to=2025-10-20", _rates_list),
    ("/v1/latest", _v1_latest),
    ("/v1/latest?base=TMT&symbols=KGS,KZT,TJS,UZS,USD", _v1_latest),
    ("/api/observations?currency=KZT,UZS&from=2025-10-05&to=2025-10-11", _observations),
    ("/export.csv?currencies=KZT,UZS&from=2025-10-05&to=2025-10-11", _csv),
    ("/healthz", _health),
]


@dataclass(frozen=True)
class Answer:
    sent: float  # time.monotonic() when the request went out
    took: float
    path: str
    status: int | None  # None: a transport error (refused, reset, timed out)
    valid: bool
    error: str = ""


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base: str
    log: Path
    cluster: db.EmbeddedCluster

    def log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("load")
    with contextmanager(own_cluster)() as cluster:
        env = {**_base_env(root), "DATABASE_URL": cluster.url()}
        pages = root / "pages"
        pages.mkdir()
        for day in range(DAYS):
            date = time.strftime("%d %B %Y", time.gmtime(1_759_276_800 + day * 86_400))  # 1 October 2025 on
            page = text_page(quotes(f"0.00{190 + day % 9}"), date=date)
            (pages / f"{day:03}.txt").write_text(page, "utf-8")
        loaded = subprocess.run([sys.executable, "-m", "fxticker", "ingest", str(pages)], env=env,
                                capture_output=True, text=True, timeout=120)
        assert loaded.returncode == 0, loaded.stderr
        port = free_port()
        log = root / "serve.log"
        with log.open("wb") as sink:
            # The log goes to a file: a pipe nobody reads would fill up and stall the server mid-test.
            process = subprocess.Popen(
                [sys.executable, "-m", "fxticker", "serve", "--port", str(port), "--workers", "2"],
                env={**env, "PROMETHEUS_MULTIPROC_DIR": str(root / "metrics")}, stdout=sink, stderr=sink,
            )
        srv = Server(process, f"http://127.0.0.1:{port}", log, cluster)
        try:
            wait_until_serving(srv.base, process, srv.log_tail, seconds=60)
            yield srv
        finally:
            stop_gracefully(process)


def _base_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_READ_URL"}
    env["FXTICKER_DATA_DIR"] = str(root / "unused-embedded")
    return env


def _client(base: str, offset: int, until: float, answers: list[Answer]) -> None:
    with httpx.Client(base_url=base, timeout=CLIENT_TIMEOUT) as client:
        step = offset
        while time.monotonic() < until:
            path, check = ENDPOINTS[step % len(ENDPOINTS)]
            step += 1
            sent = time.monotonic()
            try:
                response = client.get(path)
            except httpx.TransportError as exc:
                answers.append(Answer(sent, time.monotonic() - sent, path, None, False, repr(exc)))
                continue
            took = time.monotonic() - sent
            try:
                valid = response.status_code == 200 and check(response)
            except (AssertionError, ValueError, KeyError, IndexError, TypeError) as exc:
                valid, error = False, repr(exc)
            else:
                error = "" if valid else response.text[:200]
            answers.append(Answer(sent, took, path, response.status_code, valid, error))


def run_load(base: str, seconds: float) -> list[Answer]:
    """CLIENTS threads hitting the mix for `seconds`; every answer, in no particular order."""
    until = time.monotonic() + seconds
    per_thread: list[list[Answer]] = [[] for _ in range(CLIENTS)]
    threads = [threading.Thread(target=_client, args=(base, i, until, per_thread[i]), daemon=True)
               for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        # A request sent just before the deadline may take up to the client's timeout.
        thread.join(seconds + CLIENT_TIMEOUT + 10)
        assert not thread.is_alive(), "a client hung past its timeout"
    return [answer for answers in per_thread for answer in answers]


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def test_steady_load_of_32_clients_for_a_minute_has_no_errors(server: Server) -> None:
    answers = run_load(server.base, STEADY_SECONDS)
    failures = [a for a in answers if a.status != 200 or not a.valid]
    assert not failures, f"{len(failures)} of {len(answers)} failed, e.g. {failures[:3]}\n{server.log_tail()}"
    per_path = Counter(a.path for a in answers)
    assert set(per_path) == {path for path, _ in ENDPOINTS}
    assert len(answers) > 10 * CLIENTS, "the load ran"
    took = [a.took for a in answers]
    record_figure(
        "load-steady", f"requests held at concurrency {CLIENTS} for {STEADY_SECONDS:.0f} s", len(answers),
        f"0 errors; {len(answers) / STEADY_SECONDS:.0f} req/s, latency p50 "
        f"{_percentile(took, 0.5) * 1000:.0f} ms, p99 {_percentile(took, 0.99) * 1000:.0f} ms; "
        "`fxticker serve --workers 2`, 7 endpoints "
        "(/v2/rates, /v1/latest, /api/observations, /export.csv, /healthz) (test_reliability_load.py)",
    )


@dataclass
class Restart:
    stopping: float = 0.0  # monotonic time when the stop began
    started: float = 0.0  # ... and when the database accepted connections again
    error: BaseException | None = None


def _restart_database(cluster: db.EmbeddedCluster, after: float, down: float, marks: Restart) -> None:
    try:
        time.sleep(after)
        marks.stopping = time.monotonic()
        cluster.stop()
        time.sleep(down)
        cluster.start()
        marks.started = time.monotonic()
    except BaseException as exc:  # reported by the test: a thread's exception would be lost
        marks.error = exc


def test_database_restart_under_load_gives_503s_then_full_service(server: Server) -> None:
    """Stopped mid-load for 8 s: only 200 or 503 while it is down, never a 500; all 200 soon after."""
    seconds, stop_after, down, recovery = 36.0, 6.0, 8.0, 10.0
    marks = Restart()
    restarter = threading.Thread(target=_restart_database, args=(server.cluster, stop_after, down, marks))
    restarter.start()
    try:
        answers = run_load(server.base, seconds)
    finally:
        restarter.join(120)
    assert marks.error is None, repr(marks.error)
    assert marks.started, "the database came back"
    settled = marks.started + recovery
    assert settled + 5 < max(a.sent for a in answers), "the load ran on well after the recovery window"

    # Only 200 and 503, no transport error, before, during and after the outage; 200 only outside it.
    faults = [a for a in answers if a.status not in (200, 503)]
    outside = [a for a in answers if a.status != 200 and not marks.stopping <= a.sent + a.took < settled + 5]
    assert not outside, f"failures outside the outage: {outside[:3]}\n{server.log_tail()}"
    before = [a for a in answers if a.sent + a.took < marks.stopping]
    during = [a for a in answers if a.sent + a.took >= marks.stopping and a.sent < settled]
    after = [a for a in answers if a.sent >= settled]
    assert before and all(a.valid for a in before)
    assert any(a.status == 503 for a in during), "the outage was seen"
    assert all(a.valid for a in during if a.status == 200)
    for answer in [a for a in during if a.status == 503][:50]:
        assert answer.error.startswith("{"), "a 503 is the API's JSON error"
    assert len(after) > 5 * CLIENTS and all(a.valid for a in after)
    log = server.log.read_text(errors="replace")

    counts = Counter(a.status for a in answers)
    first_ok = min(a.sent for a in during + after if a.sent >= marks.started and a.status == 200)
    record_figure(
        "load-restart", "database restart under load (32 clients)",
        f"{counts[200]} × 200, {counts[503]} × 503, {len(faults)} other",
        f"database stopped {down:.0f} s in a {seconds:.0f} s run: 503 while down (slowest answer "
        f"{max(a.took for a in during):.1f} s); first 200 {max(0.0, first_ok - marks.started):.1f} s "
        f"after it was back, all 200 from {recovery:.0f} s after (test_reliability_load.py)",
    )
    assert not faults, f"answers other than 200 or 503: {faults[:3]}\n{server.log_tail()}"
    assert "Traceback" not in log
