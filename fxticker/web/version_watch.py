"""The data version a worker answers at, learnt from PostgreSQL's notifications rather than read per request.

The response cache keys every answer by the data version (fxticker.web.cache). Reading it once per
request cost a hit a round trip to the database: under load about half of a hit's time, and all of its
half-second tails, which were a backend waiting for a core to answer that one statement
(docs/benchmarks.md, peer). Instead, each worker keeps one connection of its own that listens on the
channel sql/011 announces every move of the version on, in a thread of its own, and reads the version
there: at once when a notification arrives, and at least once a HEARTBEAT otherwise.

What a request may use (`version()`): the watched version while the read it came from began less than
TRUST ago. Otherwise (the watch not connected yet, its connection lost, a read server that is a standby,
where LISTEN is refused) it gets None and reads the version itself, as before. So an answer can lag a
change by the notification's delivery, a few milliseconds after the commit in practice, and never by
more than TRUST, even if a notification were lost.

The watch reads on the same server as the pool (the read URL names one server: the primary or one
replica, docs/deploy.md), so a statement a request starts after the watch read version V sees at least
V's data, which is what the cache needs of a version. On a standby it does not listen to the primary
instead: the notification would come before the standby had replayed the change, and answers computed
in between would be kept under the new version with the old data.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from collections.abc import Callable

import psycopg

from fxticker.inputs import first_line
from fxticker.storage import data_version as stored_version

log = logging.getLogger(__name__)

CHANNEL = "fxticker_data_version"
# How often the version is read when no notification came: the bound on a lost notification's effect.
HEARTBEAT = 1.0
# A version read longer ago than this is not used: one late heartbeat is tolerated, not two.
TRUST = 2 * HEARTBEAT
# Reconnecting after a failure waits from the first to the last, doubling.
RETRY_FIRST, RETRY_MAX = 0.5, 10.0


class VersionWatch:
    """One worker's listener: a thread and a connection, from `start()` until `stop()`."""

    def __init__(self, url: str, configure: Callable[[psycopg.Connection], None],
                 application_name: str) -> None:
        self._url = url
        self._configure = configure
        self._application_name = application_name
        # (version, time.monotonic() when the read of it began), replaced whole: readers need no lock.
        self._known: tuple[int, float] | None = None
        # Whether the watch listens now, and who wants to know when that changes (the metrics).
        self._listening = False
        self._observers: list[Callable[[bool], None]] = []
        self._state_lock = threading.Lock()
        self._stopping = threading.Event()
        self._wake_read, self._wake_write = os.pipe()
        self._thread = threading.Thread(target=self._run, name="fxticker-version-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def version(self) -> int | None:
        """The data version a request may answer at, or None when it must read the version itself."""
        return vouched(self._known, time.monotonic())

    def observe(self, observer: Callable[[bool], None]) -> None:
        """Call observer(listening) now and whenever the watch starts or stops listening."""
        with self._state_lock:
            self._observers.append(observer)
            observer(self._listening)

    def _set_listening(self, listening: bool) -> None:
        with self._state_lock:
            if listening == self._listening:
                return
            self._listening = listening
            for observer in self._observers:
                observer(listening)

    def last_read(self) -> tuple[int, float] | None:
        """The version last read and the time.monotonic() its read began; None while not connected."""
        return self._known

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening and close the connection; the thread ends within timeout. Again: nothing."""
        if self._stopping.is_set():
            return
        self._known = None
        self._stopping.set()
        os.write(self._wake_write, b"x")
        if self._thread.is_alive():
            self._thread.join(timeout)
        if not self._thread.is_alive():
            os.close(self._wake_read)
            os.close(self._wake_write)

    def _run(self) -> None:
        try:
            self._connect_and_watch()
        finally:
            self._known = None
            self._set_listening(False)

    def _connect_and_watch(self) -> None:
        delay, failing = RETRY_FIRST, False
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True, connect_timeout=5,
                                     application_name=self._application_name) as conn:
                    self._configure(conn)
                    row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
                    if row is not None and row[0]:
                        log.info("the read server is a standby, where notifications do not arrive: each "
                                 "request reads the data version itself")
                        return
                    conn.execute(f"LISTEN {CHANNEL}")
                    if failing:
                        log.info("watching the data version again")
                    delay, failing = RETRY_FIRST, False
                    self._watch(conn)
            except psycopg.Error as exc:
                self._known = None
                self._set_listening(False)
                if not failing:
                    log.warning("cannot watch the data version (%s); each request reads it until the "
                                "watch reconnects", first_line(exc))
                    failing = True
            except Exception:
                # Not expected; the thread must outlive it all the same, or the worker reads the version
                # per request for good.
                self._known = None
                self._set_listening(False)
                if not failing:
                    log.exception("the data version watch failed; each request reads the version until "
                                  "it reconnects")
                    failing = True
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, RETRY_MAX)

    def _watch(self, conn: psycopg.Connection) -> None:
        """Read the version, then wait for a notification, the heartbeat or stop; until stop or an error."""
        # poll, not select: a busy worker's descriptors can be numbered past select's 1024.
        poller = select.poll()
        poller.register(conn.fileno(), select.POLLIN)
        poller.register(self._wake_read, select.POLLIN)
        while True:
            began = time.monotonic()
            self._known = (stored_version.current(conn), began)
            self._set_listening(True)
            # A notification that came with the read's answer may be of a commit the read did not see.
            if _notified(conn):
                continue
            deadline = began + HEARTBEAT
            while (left := deadline - time.monotonic()) > 0:
                ready = {fd for fd, _ in poller.poll(left * 1000)}
                if self._wake_read in ready:
                    return
                if ready and _notified(conn):
                    break


def vouched(known: tuple[int, float] | None, now: float) -> int | None:
    """known's version, (version, when its read began), while that read began no more than TRUST before
    now (both time.monotonic()); else None."""
    if known is None or now - known[1] > TRUST:
        return None
    return known[0]


def _notified(conn: psycopg.Connection) -> bool:
    """Whether any notification arrived; takes them all, without waiting (an error if the server left)."""
    return bool(list(conn.notifies(timeout=0)))
