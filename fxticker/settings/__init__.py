"""Every setting fxticker reads from the environment, in one table: its type, range, default and meaning.

`load()` reads and checks them all once, when a command or the web app starts, into a frozen `Settings`;
the rest of the code takes its values from that object and never reads the environment itself. A bad
value stops the start with one line naming the setting, its value and the reason (`SettingError`).

The kinds of value (whole numbers in a range, URLs, directories, ...) are in fxticker.settings.kinds. A
range that a command-line option shares (`--workers` and FXTICKER_WORKERS) is one `Whole` object here,
used by both.
"""

from __future__ import annotations

import os
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from fxticker.inputs import MAX_PAGE_BYTES, shown, without_credentials
from fxticker.settings.kinds import (
    ARCHIVE_URL,
    DATABASE_URL,
    DIRECTORY,
    OFFICIAL_ORIGINS,
    PG_BINDIR,
    SOURCES,
    TIMEZONE,
    Choice,
    Number,
    Parser,
    Whole,
)

T = TypeVar("T")

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class SettingError(ValueError):
    """A setting's value is unusable; the message is one line: NAME=value: reason."""

    def __init__(self, name: str, raw: str, reason: str, *, secret: bool = False) -> None:
        super().__init__(f"{name}={'(not shown)' if secret else shown(without_credentials(raw))}: {reason}")
        self.name = name


# The ranges a command-line option shares with its setting.
WORKERS = Whole(1, 64)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_DAY = 86_400


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One environment variable: the Settings field it fills, its parser, typed default and meaning.

    A default of None means unset (and the field may be None).
    """

    name: str
    field: str
    parse: Parser[T]
    default: T | None
    help: str
    # Never echoed in an error: a connection URL may hold a password.
    secret: bool = False

    @property
    def shown_default(self) -> str | None:
        """The default as the README writes it (None: unset)."""
        value: Any = self.default
        if value is None:
            return None
        if isinstance(value, tuple):
            return ",".join(value)
        if isinstance(value, zoneinfo.ZoneInfo):
            return value.key
        if isinstance(value, float):
            return f"{value:g}"
        return str(value)

    def read(self, environ: Mapping[str, str]) -> T | None:
        """The value from environ, checked; blank or unset is the default."""
        raw = environ.get(self.name, "").strip()
        if not raw:
            return self.default
        try:
            if _CONTROL.search(raw):
                raise ValueError("contains a control character")
            return self.parse(raw)
        except ValueError as exc:
            raise SettingError(self.name, raw, str(exc), secret=self.secret) from None


SETTINGS: tuple[Setting[Any], ...] = (
    Setting(
        "DATABASE_URL", "database_url", DATABASE_URL, None,
        "libpq URL of a PostgreSQL server with TimescaleDB. Unset: fxticker runs its own embedded "
        "cluster in FXTICKER_DATA_DIR.",
        secret=True,
    ),
    Setting(
        "DATABASE_READ_URL", "database_read_url", DATABASE_URL, None,
        "Optional URL the web tier reads from (a streaming replica). Unset: reads go to DATABASE_URL.",
        secret=True,
    ),
    Setting(
        "FXTICKER_DATA_DIR", "data_dir", DIRECTORY, Path(".fxticker"),
        "Directory of the embedded PostgreSQL cluster (data, socket and log), relative to the "
        "working directory.",
    ),
    Setting(
        "FXTICKER_PG_BINDIR", "pg_bindir", PG_BINDIR, None,
        "Directory holding initdb and pg_ctl for the embedded cluster. Unset: the newest "
        "/usr/lib/postgresql/*/bin.",
    ),
    Setting(
        "FXTICKER_SOURCES", "sources", SOURCES, ("https://timesca.com/",),
        "Comma-separated pages to scrape: http(s) URLs or file paths.",
    ),
    Setting(
        "FXTICKER_INTERVAL", "interval", Whole(1, 7 * _DAY), 1800,
        "Seconds between scheduled scrapes.",
    ),
    Setting(
        "FXTICKER_JITTER", "jitter", Number(0, _DAY), 60.0,
        "Up to this many seconds of random delay added to each scheduled scrape, so replicas and "
        "restarts do not hit the site in lockstep (at most half the interval). 0 turns it off.",
    ),
    Setting(
        "FXTICKER_FETCH_TIMEOUT", "fetch_timeout", Whole(1, 300), 20,
        "Seconds to wait for a server to answer (connecting waits at most 10 of them).",
    ),
    Setting(
        "FXTICKER_FETCH_ATTEMPTS", "fetch_attempts", Whole(1, 10), 4,
        "Attempts per page on connection errors, timeouts, 5xx and 429 before the source counts as failed.",
    ),
    Setting(
        "FXTICKER_RETRY_BACKOFF", "retry_backoff", Number(0, 60), 2.0,
        "Seconds before the first retry; each further retry waits twice as long, plus random jitter, "
        "at most 60 s. A Retry-After header is honoured up to 60 s; a longer one fails the source.",
    ),
    Setting(
        "FXTICKER_TIMEZONE", "timezone", TIMEZONE, zoneinfo.ZoneInfo("Asia/Almaty"),
        "The site's time zone: dates of pages without a date line are taken from the fetch time there.",
    ),
    Setting(
        "FXTICKER_MAX_PAGE_BYTES", "max_page_bytes", Whole(1, 1024**3), MAX_PAGE_BYTES,
        "Largest page, in bytes, that is fetched or parsed; larger ones are rejected.",
    ),
    Setting(
        "FXTICKER_ARCHIVE_URL", "archive_url", ARCHIVE_URL, "https://web.archive.org",
        "Base URL of the web archive `fxticker backfill` reads (the Wayback Machine's CDX and `id_` "
        "requests); an archive of your own that answers them stands in by changing it.",
    ),
    Setting(
        "FXTICKER_ARCHIVE_DELAY", "archive_delay", Number(0, 3600), 2.5,
        "Seconds between two requests to the archive (0 for a local mirror).",
    ),
    Setting(
        "FXTICKER_BACKFILL_ON_START", "backfill_on_start", Whole(0, 1), 0,
        "1: the scheduler, once it leads, backfills FXTICKER_SOURCES from the archive when the database "
        "holds no observations, or when a backfill was begun before (it resumes, fetching only what it "
        "has not stored). 0: it never backfills.",
    ),
    Setting(
        "FXTICKER_POOL_SIZE", "pool_size", Whole(1, 100), 10,
        "Largest number of database connections one process keeps open.",
    ),
    Setting(
        "FXTICKER_WORKERS", "workers", WORKERS, 2,
        "Gunicorn worker processes of `fxticker serve` (each with its own pool of FXTICKER_POOL_SIZE); "
        "`--workers` has the same range.",
    ),
    Setting(
        "FXTICKER_HEALTH_MAX_AGE", "health_max_age", Whole(1, 30 * _DAY), None,
        "Seconds since the last successful scrape after which /healthz says degraded. Unset: three "
        "times FXTICKER_INTERVAL.",
    ),
    Setting(
        "PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir", DIRECTORY, None,
        "Directory where gunicorn workers share request metrics (prometheus_client's multiprocess "
        "mode); its *.db files are removed when `fxticker serve` starts. Unset: a new temporary directory "
        "per serve.",
    ),
    Setting(
        "FXTICKER_OFFICIAL_PAUSE", "official_pause", Number(0, 60), 1.0,
        "Seconds between two requests to the same central bank (`fxticker official fetch`, the scheduler, "
        "the backfill).",
    ),
    Setting(
        "FXTICKER_OFFICIAL_ORIGINS", "official_origins", OFFICIAL_ORIGINS, None,
        "Send an official-rate provider's requests to another origin (a mirror, a test server), e.g. "
        "nbk=http://127.0.0.1:8081. Unset: the banks' own sites.",
    ),
    Setting(
        "FXTICKER_LOG_LEVEL", "log_level", Choice(LOG_LEVELS), "INFO",
        "Logging level.",
    ),
)


def default(name: str) -> Any:
    """A setting's default, for code that has no Settings at hand (a policy's field defaults, say)."""
    for setting in SETTINGS:
        if setting.name == name:
            return setting.default
    raise KeyError(name)


@dataclass(frozen=True)
class Settings:
    """The settings of one process, read and checked once by `load`; the defaults live in SETTINGS."""

    database_url: str | None
    database_read_url: str | None
    data_dir: Path
    pg_bindir: Path | None
    sources: tuple[str, ...]
    interval: int
    jitter: float
    fetch_timeout: int
    fetch_attempts: int
    retry_backoff: float
    timezone: zoneinfo.ZoneInfo
    max_page_bytes: int
    archive_url: str
    archive_delay: float
    backfill_on_start: int
    pool_size: int
    workers: int
    health_max_age: int | None
    prometheus_multiproc_dir: Path | None
    official_pause: float
    official_origins: tuple[tuple[str, str], ...] | None
    log_level: str

    @property
    def scrape_max_age(self) -> int:
        """How old the last successful scrape may be before /healthz says degraded."""
        # Three intervals: one missed run is normal (a slow site), three in a row are not.
        return self.health_max_age if self.health_max_age is not None else 3 * self.interval

    @property
    def scrape_jitter(self) -> float:
        """The random delay a scheduled scrape may take: FXTICKER_JITTER, at most half the interval, so
        that two runs never swap places."""
        return min(self.jitter, self.interval / 2)


def load(environ: Mapping[str, str] | None = None) -> Settings:
    """Every setting from environ (default: the process environment), checked; SettingError names the
    first bad one."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {s.field: s.read(env) for s in SETTINGS}
    return Settings(**values)
