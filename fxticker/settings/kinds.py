"""The kinds of value a setting holds: each a parser that turns the text into a value or says why not.

A parser is called with the environment's text and raises ValueError with a short reason; its `allowed`
says in a few words what it accepts (the README's settings table prints it). fxticker.settings names
which setting has which kind.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar
from urllib.parse import urlsplit

from fxticker import inputs, vocab

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
class Parser(Protocol[T_co]):
    """Text to a value, or ValueError with the reason; `allowed` says in a few words what is accepted."""

    @property
    def allowed(self) -> str: ...

    def __call__(self, raw: str, /) -> T_co: ...


@dataclass(frozen=True)
class Whole:
    """A whole number from low to high, inclusive."""

    low: int
    high: int

    @property
    def allowed(self) -> str:
        return f"{self.low} to {self.high}"

    def __call__(self, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"not a whole number (from {self.low} to {self.high})") from None
        if not self.low <= value <= self.high:
            raise ValueError(f"must be from {self.low} to {self.high}")
        return value


@dataclass(frozen=True)
class Number:
    """A finite number (decimals allowed) from low to high, inclusive."""

    low: float
    high: float

    @property
    def allowed(self) -> str:
        return f"{self.low:g} to {self.high:g}"

    def __call__(self, raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"not a number (from {self.low:g} to {self.high:g})") from None
        if not self.low <= value <= self.high:  # also refuses nan and inf
            raise ValueError(f"must be from {self.low:g} to {self.high:g}")
        return value


@dataclass(frozen=True)
class Choice:
    """One of a few words, in any case; the value is the word as listed."""

    words: tuple[str, ...]

    @property
    def allowed(self) -> str:
        return ", ".join(self.words)

    def __call__(self, raw: str) -> str:
        for word in self.words:
            if raw.upper() == word.upper():
                return word
        raise ValueError(f"must be one of {', '.join(self.words)}")


@dataclass(frozen=True)
class Checked(Generic[T]):
    """A value a function reads and checks; `allowed` says what it accepts."""

    check: Callable[[str], T]
    allowed: str

    def __call__(self, raw: str) -> T:
        return self.check(raw)


def _database_url(raw: str) -> str:
    scheme = urlsplit(raw).scheme if "://" in raw else ""
    if scheme and scheme not in ("postgresql", "postgres"):
        raise ValueError("must be a postgresql:// URL or a libpq key=value string")
    # Imported here, not at the top: psycopg takes longer to import than `fxticker parse` takes to parse
    # a hundred pages, and only a set DATABASE_URL needs libpq's reading of it.
    import psycopg

    try:
        psycopg.conninfo.conninfo_to_dict(raw)
    except psycopg.ProgrammingError as exc:
        raise ValueError(f"not a libpq connection string: {inputs.first_line(exc)}") from None
    return raw


def _directory(raw: str) -> Path:
    path = Path(raw).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError("exists and is not a directory")
    return path


def _pg_bindir(raw: str) -> Path:
    path = Path(raw).expanduser()
    missing = [tool for tool in ("initdb", "pg_ctl") if not (path / tool).is_file()]
    if missing:
        raise ValueError(f"holds no {' or '.join(missing)}")
    return path


def _sources(raw: str) -> tuple[str, ...]:
    # Blanks dropped, each source once, order kept.
    found = tuple(dict.fromkeys(s.strip() for s in raw.split(",") if s.strip()))
    if not found:
        raise ValueError("no source: give at least one http(s) URL or file path")
    return tuple(inputs.source(source) for source in found)


def _archive_url(raw: str) -> str:
    parts = inputs.http_url(raw)
    if parts.query or parts.fragment:
        raise ValueError("must not carry a query or a fragment")
    # The archive's paths are appended to it: /cdx/search/cdx, /web/...
    return raw.rstrip("/")


def _timezone(raw: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(raw)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError("not a known time zone") from None


def _official_origins(raw: str) -> tuple[tuple[str, str], ...]:
    """KEY=URL pairs, each KEY a bank fxticker fetches and each URL an origin (scheme, host, port)."""
    pairs = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        key, sep, url = item.partition("=")
        key = vocab.provider_key(key)
        if not sep or key not in vocab.FETCHED_BANKS:
            known = ", ".join(vocab.FETCHED_BANKS)
            raise ValueError(f"{inputs.shown(item)} is not KEY=URL with KEY one of {known}")
        try:
            pairs.append((key, inputs.origin(url)))
        except ValueError:
            raise ValueError(f"{inputs.shown(url)} is not an origin such as https://host:port") from None
    return tuple(pairs)


DATABASE_URL = Checked(_database_url, "postgresql:// URL or libpq key=value string")
DIRECTORY = Checked(_directory, "a directory (created when missing)")
PG_BINDIR = Checked(_pg_bindir, "a directory holding initdb and pg_ctl")
OFFICIAL_ORIGINS = Checked(_official_origins, "KEY=URL pairs, comma-separated")
SOURCES = Checked(_sources, "http(s) URLs and file paths, comma-separated")
TIMEZONE = Checked(_timezone, "an IANA time zone name")
ARCHIVE_URL = Checked(_archive_url, "an http(s) URL without query or fragment")
