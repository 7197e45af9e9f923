"""HTTP behaviour of the APIs: ETag, Cache-Control, 304 on If-None-Match, and CORS, as after_request hooks."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, request
from werkzeug.wrappers import Response

from fxticker.web import lifetimes

# Paths whose responses are public data; health, metrics and pages keep their own headers.
API_PREFIXES = ("/v1/", "/v2/", "/api/", "/openapi.json")
NDJSON = "application/x-ndjson"
# Paths whose body depends on the Accept header (JSON or NDJSON rows, as Frankfurter's /v2/rates).
NEGOTIATED = frozenset({"/v2/rates"})
# A preflight's Access-Control-Request-Headers is echoed only when it is a list of header names.
_HEADER_NAMES = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+(\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*", re.ASCII)


def is_api(path: str) -> bool:
    return path.startswith(API_PREFIXES)


def wants_ndjson() -> bool:
    """Frankfurter answers NDJSON when Accept names it (lib/versions/v2.rb, ndjson?)."""
    return request.path in NEGOTIATED and NDJSON in request.headers.get("Accept", "")


def _preflight(response: Response) -> Response:
    response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
    # Frankfurter allows any header (rack-cors headers: :any): echo what the browser asks for.
    asked = request.headers.get("Access-Control-Request-Headers", "").strip()
    allowed = asked if asked and len(asked) <= 1000 and _HEADER_NAMES.fullmatch(asked) else "If-None-Match"
    response.headers["Access-Control-Allow-Headers"] = allowed
    response.headers["Access-Control-Max-Age"] = "86400"
    response.vary.add("Access-Control-Request-Headers")
    return response


def _api_headers(response: Response) -> Response:
    # No error answer may be kept by a cache, on any path (Frankfurter's lib/no_store_on_error.rb).
    if response.status_code >= 400:
        response.headers["Cache-Control"] = "no-store"
    if not is_api(request.path):
        return response
    response.headers["Access-Control-Allow-Origin"] = "*"
    if request.method == "OPTIONS":
        return _preflight(response)
    if request.method not in ("GET", "HEAD"):
        return response
    if request.path in NEGOTIATED:
        response.vary.add("Accept")
    response.headers["Access-Control-Expose-Headers"] = "ETag"
    # A strong validator from the body's hash: equal bodies, equal tags, across workers and restarts. Not
    # of a streamed body: hashing it would read all of it into memory first (web/stream.py).
    if not response.is_streamed:
        response.add_etag()
    if response.status_code == 200:
        response.headers["Cache-Control"] = lifetimes.cache_control()
        response.make_conditional(request.environ)
    return response


REDIRECT_BODY = "Moved: see the Location header.\n"
# On every answer (the server's own error answers too, fxticker.serve).
SAFE = {"X-Content-Type-Options": "nosniff"}


def _safe_headers(response: Response) -> Response:
    """On every answer: no content sniffing, and no Location that names the host the client claimed.

    A browser that sniffs could run a JSON or CSV body holding markup as a page. The Host header is the
    client's to forge (werkzeug builds an absolute Location from it, e.g. for /v1//latest), so a
    redirect says only the path: the client resolves it against the host it really reached.
    """
    response.headers.update(SAFE)
    location = response.headers.get("Location")
    if location:
        parts = urlsplit(location)
        if parts.scheme or parts.netloc:
            # One leading slash: "//x" would itself name a host.
            path = "/" + parts.path.lstrip("/")
            response.headers["Location"] = urlunsplit(("", "", path, parts.query, parts.fragment))
            if 300 <= response.status_code < 400:
                # werkzeug's redirect page links the absolute URL too: a body without any link instead.
                response.set_data(REDIRECT_BODY)
                response.content_type = "text/plain; charset=utf-8"
    return response


def install(app: Flask) -> None:
    app.after_request(_api_headers)
    app.after_request(_safe_headers)
