"""HTTP behaviour of the APIs: ETag, Cache-Control, 304 on If-None-Match, and CORS, as after_request hooks."""

from __future__ import annotations

from flask import Flask, request
from werkzeug.wrappers import Response

# Paths whose responses are public data; health, metrics and pages keep their own headers.
API_PREFIXES = ("/v1/", "/v2/", "/api/", "/openapi.json")
# Rates change when the ticker is scraped (every half hour by default); a few minutes of caching
# spares the database without serving a stale day for long.
MAX_AGE = 300


def is_api(path: str) -> bool:
    return path.startswith(API_PREFIXES)


def _api_headers(response: Response) -> Response:
    if not is_api(request.path):
        return response
    response.headers["Access-Control-Allow-Origin"] = "*"
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "If-None-Match"
        response.headers["Access-Control-Max-Age"] = "86400"
        return response
    if request.method not in ("GET", "HEAD"):
        return response
    response.headers["Access-Control-Expose-Headers"] = "ETag"
    # A strong validator from the body's hash: equal bodies, equal tags, across workers and restarts.
    response.add_etag()
    if response.status_code == 200:
        response.headers["Cache-Control"] = f"public, max-age={MAX_AGE}"
        response.make_conditional(request.environ)
    else:
        response.headers["Cache-Control"] = "no-store"
    return response


def install(app: Flask) -> None:
    app.after_request(_api_headers)
