"""Reading one HTTP answer within bounds: at most so many bytes once decoded, and all of it within a
deadline. HTTP only; fxticker.collect.fetcher calls it for every fetch (pages, archive, banks).

httpx decodes a compressed answer one network chunk at a time, each in a single unbounded call, so a
1,827-byte chunk of gzip-in-gzip becomes gigabytes before anyone can count them. Here the raw bytes are
inflated with zlib's max_length, a bounded piece at a time, through every listed encoding, and the count
stops the read as soon as it passes the cap. httpx's timeouts bound each read, not the answer; a timer
shuts the connection's socket when the deadline passes, which ends a read that is waiting, so a server
that sends a byte a second fails on time.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from typing import Any

import httpx

# The encodings fxticker asks for (Accept-Encoding), and so the only ones it reads.
ACCEPT_ENCODING = "gzip, deflate"
_WBITS = {"gzip": zlib.MAX_WBITS | 16, "x-gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS | 32}
_PIECE = 64 * 1024  # the most one inflate step may produce


class TooLarge(Exception):
    """More than the cap, counted after decoding."""


class BadEncoding(Exception):
    """An encoding fxticker did not ask for, or bytes that do not decode as the one declared."""


class Deadline:
    """A whole answer's time limit: when it passes, the connection's socket is shut, so that a read
    waiting on it ends at once; `expired` then says why the read failed."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._end = time.monotonic() + seconds
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpx's trace hook: note the socket of a new connection as soon as it is made."""
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            stream = info.get("return_value")
            if stream is not None:
                self.watch(stream)

    def watch(self, stream: Any) -> None:
        """Also shut this network stream's socket at the deadline (a reused connection's, say)."""
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
            late = self.expired
        if late:
            _shut(sock)

    def check(self) -> None:
        if self.expired or time.monotonic() >= self._end:
            self.expired = True
            raise TimeoutError

    def cancel(self) -> None:
        self._timer.cancel()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # closed already
        sock.shutdown(socket.SHUT_RDWR)


def encodings(header: str | None) -> list[str]:
    """Content-Encoding's list, in the order applied; identity left out."""
    names = [part.strip().lower() for part in (header or "").split(",")]
    return [name for name in names if name and name != "identity"]


class _Inflater:
    """Undoes a list of encodings, in reverse order of their application, a bounded piece at a time."""

    def __init__(self, applied: list[str], limit: int) -> None:
        unknown = [name for name in applied if name not in _WBITS]
        if unknown:
            raise BadEncoding(f"Content-Encoding {unknown[0]!r}, which fxticker does not ask for")
        self._wbits = [_WBITS[name] for name in reversed(applied)]
        self._stages = [zlib.decompressobj(wbits) for wbits in self._wbits]
        self._sizes = [0] * len(self._stages)
        self._limit = limit

    def feed(self, data: bytes, stage: int = 0) -> Iterator[bytes]:
        if stage == len(self._stages):
            yield data
            return
        while True:
            inflater = self._stages[stage]
            try:
                out = inflater.decompress(data, _PIECE)
            except zlib.error as exc:
                raise BadEncoding(f"the body does not decode as declared ({exc})") from None
            data = inflater.unconsumed_tail
            if inflater.eof and inflater.unused_data:
                # Another gzip member follows (RFC 1952 allows several): a fresh inflater reads it.
                data = inflater.unused_data + data
                self._stages[stage] = zlib.decompressobj(self._wbits[stage])
            self._sizes[stage] += len(out)
            # Every stage is held to the cap: an inner stage's bytes are a compressed form of the page.
            if self._sizes[stage] > self._limit:
                raise TooLarge
            if out:
                yield from self.feed(out, stage + 1)
            if not data and len(out) < _PIECE:
                return


def read(response: httpx.Response, max_bytes: int, deadline: Deadline) -> bytes:
    """The answer's body, decoded; TooLarge past max_bytes, BadEncoding, or TimeoutError past the
    deadline (httpx's own errors pass through)."""
    inflater = _Inflater(encodings(response.headers.get("content-encoding")), max_bytes)
    chunks: list[bytes] = []
    size = 0
    for raw in response.iter_raw():
        deadline.check()
        for piece in inflater.feed(raw):
            size += len(piece)
            if size > max_bytes:
                raise TooLarge
            chunks.append(piece)
            deadline.check()
    return b"".join(chunks)
