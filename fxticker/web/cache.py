"""Response cache: each worker keeps API bodies under the data version they were computed at, until it moves.

Every change to `observation` or `official_rate` bumps `data_version.version` in the same transaction
(sql/004, sql/010). A cached view takes the version its request answers at (`request_version`) and
looks up

    (version, latest_today(), path, query arguments)

Everything an API body depends on is in that key: the stored data (the version), the clock (the
endpoints' only use of it is `vocab.latest_today()`, the default `date` and `to`; it changes on an hour
boundary, 10:00 UTC) and the request's path and arguments. One request header changes a body: Accept on
/v2/rates (JSON or NDJSON, headers.wants_ndjson), so the key's path carries that choice. The
conditional-GET, CORS and Vary headers are added afterwards by fxticker.web.headers, on hits and misses.

Where the version comes from: the worker's watch (fxticker.web.version_watch), which learns of every
change from a notification at its commit, so a hit costs no database round trip; when the watch cannot
vouch for its version, the request reads it on the connection it then computes on, one indexed
single-row SELECT. Either way the version is known *before* the computation, and every statement after
it (autocommit, read committed, on the same server) sees at least the data of that version: a body
stored under version V reflects data at least as new as V. An answer lags a change only until the
worker hears of it: the notification's delivery, milliseconds, and at most version_watch.TRUST. A
replica that lags serves its own consistent version, as it would without the cache.

The cache is per worker process (gunicorn forks several; they do not share memory) and bounded by bytes,
not entries: bodies range from 100 bytes to megabytes (ten years of rates), so a count would bound nothing.
Entries of older versions are dropped as soon as a newer version is seen. A miss computes as before;
only 200 responses are stored (errors are exceptions and pass through untouched).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec

import psycopg
from cachetools import LRUCache
from flask import Flask, current_app, g, request
from werkzeug.wrappers import Response

from fxticker import vocab
from fxticker.storage import data_version as stored_version
from fxticker.web import headers
from fxticker.web.errors import Unavailable
from fxticker.web.pool import holding_read_connection, watched_version

log = logging.getLogger(__name__)

# Per worker: with the default two workers, 128 MiB at most in all.
MAX_BYTES = 64 * 1024 * 1024
# A body larger than this (e.g. every observation since 2000) is served but not kept: it would push out
# hundreds of small, frequently asked ones.
MAX_ENTRY_BYTES = MAX_BYTES // 8
# Accounting for the key, the headers and the objects around a body; only the order of magnitude matters.
_OVERHEAD = 256

_REQUEST_VERSION = "fxticker_data_version"

Key = tuple[int, dt.date, str, tuple[tuple[str, str], ...]]
P = ParamSpec("P")


@dataclass(frozen=True)
class Entry:
    """A stored 200 response: its body, content type and the ETag computed from the body once."""

    body: bytes
    content_type: str
    etag: str
    size: int

    def response(self) -> Response:
        response = Response(self.body, status=200, content_type=self.content_type)
        # headers.py's add_etag keeps an existing ETag, so a hit does not hash the body again.
        response.headers["ETag"] = self.etag
        return response


@dataclass(frozen=True)
class Stats:
    hits: int
    misses: int
    entries: int
    bytes: int
    version: int


class ResponseCache:
    """A thread-safe LRU of response bodies bounded in bytes (gthread workers run several threads).

    The lock covers only lookups and stores, never a computation: two threads missing the same key at
    once both compute it, which costs a little CPU once per data version and never blocks a hit.
    """

    def __init__(self, max_bytes: int = MAX_BYTES, max_entry_bytes: int = MAX_ENTRY_BYTES) -> None:
        self._lock = threading.Lock()
        self._entries: LRUCache[Key, Entry] = LRUCache(maxsize=max_bytes, getsizeof=lambda e: e.size)
        self._max_entry = min(max_entry_bytes, max_bytes)
        self._newest = 0
        self._hits = 0
        self._misses = 0

    def _advance(self, version: int) -> None:
        """Called with the lock held: on a newer version, drop everything older (it is never asked again)."""
        if version > self._newest:
            self._entries.clear()
            self._newest = version

    def get(self, key: Key) -> Entry | None:
        with self._lock:
            self._advance(key[0])
            entry = self._entries.get(key)
            if entry is None:
                self._misses += 1
            else:
                self._hits += 1
            return entry

    def put(self, key: Key, entry: Entry) -> None:
        if entry.size > self._max_entry:
            return
        with self._lock:
            self._advance(key[0])
            # A computation that raced a newer version's clear must not store its older key again.
            if key[0] == self._newest:
                self._entries[key] = entry

    def stats(self) -> Stats:
        with self._lock:
            return Stats(self._hits, self._misses, len(self._entries), int(self._entries.currsize),
                         self._newest)


def init_app(app: Flask) -> None:
    """One cache per app, i.e. per worker; RESPONSE_CACHE_BYTES = 0 in the app's config turns it off."""
    app.extensions["fxticker_response_cache"] = ResponseCache(
        int(app.config.get("RESPONSE_CACHE_BYTES", MAX_BYTES)))


def current() -> ResponseCache:
    cache: ResponseCache = current_app.extensions["fxticker_response_cache"]
    return cache


def data_version(conn: psycopg.Connection) -> int:
    """The committed data version; a schema without it (004 not applied) is a 503 that says so."""
    try:
        return stored_version.current(conn)
    except psycopg.errors.UndefinedTable:
        log.error("table data_version is missing: run 'fxticker migrate'")
        raise Unavailable("the database schema is out of date; try again shortly") from None
    except psycopg.DataError:
        raise Unavailable("the database schema is out of date; try again shortly") from None


def request_version(connection: Callable[[], psycopg.Connection]) -> int:
    """The data version this request answers at, taken once, so views keying their own work by it (the
    API's amount-free rates) agree with the response cache: the watch's when it vouches for one, else
    read on connection(), the connection the request computes on, asked for only then."""
    known: int | None = g.get(_REQUEST_VERSION)
    if known is None:
        known = watched_version()
        if known is None:
            known = data_version(connection())
        setattr(g, _REQUEST_VERSION, known)
    return known


def _key(version: int) -> Key:
    # Arguments sorted by name: their order never changes an answer. Values of a repeated name keep
    # their order (a stable sort), though the APIs reject repeats anyway, and with a 422 nothing is kept.
    args = tuple(sorted(request.args.items(multi=True), key=lambda item: item[0]))
    path = request.path + (" ndjson" if headers.wants_ndjson() else "")
    return version, vocab.latest_today(), path, args


def cached(view: Callable[P, Response]) -> Callable[P, Response]:
    """Serve view's 200 responses from the worker's cache while the data version stays the same.

    With the watch's version a hit touches no connection, and a miss takes one as the view asks. Without
    it, the version is read on a connection the view then runs on (read_connection inside it reuses it),
    so a miss costs one extra statement, and a hit costs that statement alone.
    """

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        cache = current()
        with contextlib.ExitStack() as held:
            key = _key(request_version(lambda: held.enter_context(holding_read_connection())))
            entry = cache.get(key)
            if entry is not None:
                return entry.response()
            response = view(*args, **kwargs)
        if response.status_code == 200 and not response.is_streamed:
            response.add_etag()
            body = response.get_data()
            size = len(body) + len(key[2]) + sum(len(k) + len(v) for k, v in key[3]) + _OVERHEAD
            cache.put(key, Entry(body, response.content_type or "", response.headers["ETag"], size))
        return response

    return wrapper
