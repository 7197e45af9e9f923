"""Sources of pages: what counts as one (an http(s) URL or a file path), a page read from one, and
reading a page saved to a file.

Nothing here speaks HTTP (fxticker.collect.fetcher does), so a command that reads only files, or checks the
settings, starts without importing an HTTP client.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from fxticker import inputs
from fxticker.inputs import display


class FetchError(RuntimeError):
    """A page could not be read; the message names it and says why. `status`: the HTTP status, if any."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Validators:
    """What a server said about a page's version, to ask next time whether it changed (conditional GET)."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


@dataclass(frozen=True)
class Page:
    """Raw bytes of one page and their provenance. A 304 answer is a page with no body."""

    source: str
    body: bytes
    content_type: str | None
    seen_at: dt.datetime
    is_file: bool
    status: int | None = None
    validators: Validators | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def check_source(source: str) -> str:
    """A source as given when it is an http(s) URL or a file path (inputs.source); FetchError otherwise."""
    try:
        return inputs.source(source)
    except ValueError as exc:
        raise FetchError(str(exc)) from None


def read_file(path: str | Path, max_bytes: int) -> Page:
    """A page saved to disk; its capture time is the file's modification time.

    Only a regular file is read, and never more than `max_bytes` of it, whatever its size claims:
    /dev/zero says 0 bytes and never ends, a FIFO would block until a writer came.
    """
    path = Path(path)
    name = display(str(path))
    try:
        # O_NONBLOCK: opening a FIFO would otherwise wait for a writer before fstat could refuse it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        raise FetchError(f"{name}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FetchError(f"{name}: not a regular file ({_file_kind(info.st_mode)})")
        if info.st_size > max_bytes:
            raise FetchError(f"{name}: {info.st_size:,} bytes, over the {max_bytes:,}-byte limit")
        body = _read_at_most(fd, max_bytes + 1)
    except OSError as exc:
        raise FetchError(f"{name}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(body) > max_bytes:
        raise FetchError(f"{name}: over the {max_bytes:,}-byte limit (it grew while being read)")
    seen_at = dt.datetime.fromtimestamp(info.st_mtime, tz=dt.UTC)
    return Page(name, body, None, seen_at, is_file=True)


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = os.read(fd, min(1024 * 1024, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _file_kind(mode: int) -> str:
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    return next((kind for test, kind in kinds if test(mode)), "not a plain file")


