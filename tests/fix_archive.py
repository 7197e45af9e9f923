"""A Wayback-compatible archive on a real local HTTP server (pytest-httpserver), for the backfill tests.

It speaks the CDX API (JSON, `limit` + `showResumeKey`/`resumeKey` paging, `from`/`to`, the status filter)
and serves captures at `/web/{timestamp}id_/{original}` with Memento-Datetime; without `id_` it serves the
toolbar page. Per capture, a test can script what the archive does: a 404 archived as such, 429s (with or
without Retry-After), 5xx, a redirect to a nearby capture, or a handler that blocks.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

ORIGINAL = "https://timesca.com/"
_REPLAY = re.compile(r"^/web/([0-9]{14})(id_)?/(.+)$")


def digest(body: bytes) -> str:
    return base64.b32encode(hashlib.sha1(body).digest()).decode()  # noqa: S324 (the archive's own choice)


def memento_datetime(timestamp: str) -> str:
    moment = dt.datetime.strptime(timestamp, "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)
    return email.utils.format_datetime(moment, usegmt=True)


@dataclass
class Stored:
    timestamp: str
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    original: str = ORIGINAL
    status: int = 200  # the status the listing gives (an archived 404 is listed as 404)
    listed: bool = True  # False: served when asked for, but not in the listing
    toolbar: bytes | None = None  # what the page without id_ serves (default: the body, rewritten)
    # Scripted answers to the id_ URL, used up one per request before the capture itself is served.
    script: list[Callable[[], Response]] = field(default_factory=list)

    @property
    def digest(self) -> str:
        return digest(self.body)


class FakeArchive:
    """The archive: captures by timestamp, the requests it saw (with the time each arrived)."""

    def __init__(self, server: HTTPServer, page_size: int = 2) -> None:
        self.server = server
        self.page_size = page_size
        self.captures: dict[str, Stored] = {}
        self.requests: list[tuple[float, str]] = []
        self.cdx_answer: Callable[[], Response] | None = None  # replaces the listing when set
        self.cdx_script: list[Callable[[], Response]] = []  # answers used up one per listing request
        self.honour_filter = True  # False: list every status, as a server that ignores `filter` would
        self.lock = threading.Lock()
        server.expect_request("/cdx/search/cdx").respond_with_handler(self._cdx)
        server.expect_request(re.compile(r"^/web/.*")).respond_with_handler(self._replay)

    @property
    def url(self) -> str:
        return self.server.url_for("").rstrip("/")

    def add(self, timestamp: str, body: str | bytes, **kwargs: object) -> Stored:
        data = body.encode() if isinstance(body, str) else body
        stored = Stored(timestamp, data, **kwargs)  # type: ignore[arg-type]
        self.captures[timestamp] = stored
        return stored

    def fetched(self) -> list[str]:
        """Timestamps of the id_ requests, in order."""
        return [m[1] for _, path in self.requests if (m := _REPLAY.match(path)) and m[2]]

    def times(self) -> list[float]:
        return [t for t, _ in self.requests]

    # ---- handlers ---------------------------------------------------------------------------------

    def _log(self, request: Request) -> None:
        with self.lock:
            self.requests.append((time.monotonic(), request.full_path.rstrip("?")))

    def _cdx(self, request: Request) -> Response:
        self._log(request)
        with self.lock:
            scripted = self.cdx_script.pop(0) if self.cdx_script else None
        if scripted is not None:
            return scripted()
        if self.cdx_answer is not None:
            return self.cdx_answer()
        args = request.args
        assert args.get("output") == "json"
        assert args.get("showResumeKey") == "true"
        fields = args["fl"].split(",")
        lo, hi = args.get("from", "0"), args.get("to", "99999999999999")
        rows = [
            c for ts, c in sorted(self.captures.items())
            if c.listed and c.original == args["url"] and lo <= ts[: len(lo)] and ts[: len(hi)] <= hi
            and (c.status == 200 or not self.honour_filter or args.get("filter") != "statuscode:200")
        ]
        start = int(args.get("resumeKey", "0").removeprefix("key-"))
        limit = min(int(args["limit"]), self.page_size)
        page = rows[start:start + limit]
        table: list[list[str]] = [fields]
        for c in page:
            values = {"timestamp": c.timestamp, "original": c.original, "digest": c.digest,
                      "statuscode": str(c.status), "mimetype": "text/html"}
            table.append([values[name] for name in fields])
        if start + limit < len(rows):
            table += [[], [f"key-{start + limit}"]]
        return Response(json.dumps(table), content_type="application/json")

    def _replay(self, request: Request) -> Response:
        self._log(request)
        match = _REPLAY.match(request.full_path.rstrip("?"))
        if not match:
            return Response("not a replay URL", status=400)
        timestamp, mode = match[1], match[2]
        stored = self.captures.get(timestamp)
        if stored is None:
            # An inexact timestamp redirects to the nearest capture, as the Wayback Machine does.
            nearest = min(self.captures, key=lambda ts: abs(int(ts) - int(timestamp)))
            return Response("", status=302, headers={"Location": f"/web/{nearest}{mode or ''}/{match[3]}"})
        if mode is None:
            body = stored.toolbar if stored.toolbar is not None else b"<div id=toolbar></div>" + stored.body
            return Response(body, content_type=stored.content_type,
                            headers={"Memento-Datetime": memento_datetime(timestamp)})
        with self.lock:
            scripted = stored.script.pop(0) if stored.script else None
        if scripted is not None:
            return scripted()
        return Response(stored.body, status=stored.status, content_type=stored.content_type,
                        headers={"Memento-Datetime": memento_datetime(timestamp)})


def too_many(retry_after: str | None = None) -> Callable[[], Response]:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return lambda: Response("slow down", status=429, headers=headers)


def unavailable() -> Callable[[], Response]:
    return lambda: Response("busy", status=503)


def redirect_to(timestamp: str, original: str = ORIGINAL) -> Callable[[], Response]:
    return lambda: Response("", status=302, headers={"Location": f"/web/{timestamp}id_/{original}"})
