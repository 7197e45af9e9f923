"""Fetching: a page's bytes from a URL or a file, with what is known of when and where they came from."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

import httpx

from fxticker import __version__

USER_AGENT = f"fxticker/{__version__} (+https://github.com/fxticker/fxticker)"
ACCEPT = "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.5"


class FetchError(RuntimeError):
    """A page could not be read; the message names it and says why."""


@dataclass(frozen=True)
class Page:
    """Raw bytes of one page and their provenance."""

    source: str
    body: bytes
    content_type: str | None
    seen_at: dt.datetime
    is_file: bool
    status: int | None = None

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def read_file(path: Path, max_bytes: int) -> Page:
    """A page saved to disk; its capture time is the file's modification time."""
    try:
        stat = path.stat()
        if stat.st_size > max_bytes:
            raise FetchError(f"{path}: {stat.st_size:,} bytes, over the {max_bytes:,}-byte limit")
        body = path.read_bytes()
    except OSError as exc:
        raise FetchError(f"{path}: {exc.strerror or exc}") from None
    seen_at = dt.datetime.fromtimestamp(stat.st_mtime, tz=dt.UTC)
    return Page(str(path), body, None, seen_at, is_file=True)


def fetch_url(url: str, max_bytes: int, client: httpx.Client | None = None) -> Page:
    """GET one page, refusing bodies over max_bytes."""
    own = client is None
    client = client or httpx.Client(
        timeout=httpx.Timeout(10.0, connect=5.0),
        headers={"User-Agent": USER_AGENT, "Accept": ACCEPT},
        follow_redirects=True,
    )
    try:
        with client.stream("GET", url) as response:
            if response.status_code >= 400:
                raise FetchError(f"{url}: HTTP {response.status_code}")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(f"{url}: body over the {max_bytes:,}-byte limit")
                chunks.append(chunk)
            return Page(
                url,
                b"".join(chunks),
                response.headers.get("content-type"),
                dt.datetime.now(dt.UTC),
                is_file=False,
                status=response.status_code,
            )
    except httpx.HTTPError as exc:
        raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from None
    finally:
        if own:
            client.close()
