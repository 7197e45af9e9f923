"""Every setting fxticker reads from the environment, with its default and its meaning, in one table."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "DATABASE_URL",
        "",
        "libpq URL of a PostgreSQL server with TimescaleDB. Unset: fxticker runs its own embedded "
        "cluster in FXTICKER_DATA_DIR.",
    ),
    Setting(
        "DATABASE_READ_URL",
        "",
        "Optional URL the web tier reads from (a streaming replica). Unset: reads go to DATABASE_URL.",
    ),
    Setting(
        "FXTICKER_DATA_DIR",
        ".fxticker",
        "Directory of the embedded PostgreSQL cluster (data, socket and log), relative to the "
        "working directory.",
    ),
    Setting(
        "FXTICKER_PG_BINDIR",
        "",
        "Directory holding initdb and pg_ctl for the embedded cluster. Unset: the newest "
        "/usr/lib/postgresql/*/bin.",
    ),
    Setting(
        "FXTICKER_SOURCES",
        "https://timesca.com/",
        "Comma-separated pages to scrape: http(s) URLs or file paths.",
    ),
    Setting(
        "FXTICKER_INTERVAL",
        "1800",
        "Seconds between scheduled scrapes.",
    ),
    Setting(
        "FXTICKER_JITTER",
        "60",
        "Up to this many seconds of random delay added to each scheduled scrape, so replicas and "
        "restarts do not hit the site in lockstep (at most half the interval). 0 turns it off.",
    ),
    Setting(
        "FXTICKER_FETCH_TIMEOUT",
        "20",
        "Seconds to wait for a server to answer (connecting waits at most 10 of them).",
    ),
    Setting(
        "FXTICKER_FETCH_ATTEMPTS",
        "4",
        "Attempts per page on connection errors, timeouts, 5xx and 429 before the source counts as failed.",
    ),
    Setting(
        "FXTICKER_RETRY_BACKOFF",
        "2",
        "Seconds before the first retry; each further retry waits twice as long, plus random jitter, "
        "at most 60 s. A Retry-After header is honoured up to 60 s; a longer one fails the source.",
    ),
    Setting(
        "FXTICKER_TIMEZONE",
        "Asia/Almaty",
        "The site's time zone: dates of pages without a date line are taken from the fetch time there.",
    ),
    Setting(
        "FXTICKER_MAX_PAGE_BYTES",
        str(32 * 1024 * 1024),
        "Largest page, in bytes, that is fetched or parsed; larger ones are rejected.",
    ),
    Setting(
        "FXTICKER_POOL_SIZE",
        "10",
        "Largest number of database connections one process keeps open.",
    ),
    Setting(
        "FXTICKER_WORKERS",
        "2",
        "Gunicorn worker processes of `fxticker serve` (each with its own pool of FXTICKER_POOL_SIZE).",
    ),
    Setting(
        "FXTICKER_HEALTH_MAX_AGE",
        "",
        "Seconds since the last successful scrape after which /healthz says degraded. Unset: three "
        "times FXTICKER_INTERVAL.",
    ),
    Setting(
        "PROMETHEUS_MULTIPROC_DIR",
        "",
        "Directory where gunicorn workers share request metrics (prometheus_client's multiprocess "
        "mode); its *.db files are removed when `fxticker serve` starts. Unset: a new temporary directory "
        "per serve.",
    ),
    Setting(
        "FXTICKER_LOG_LEVEL",
        "INFO",
        "Logging level: DEBUG, INFO, WARNING or ERROR.",
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def get(name: str, environ: Mapping[str, str] | None = None) -> str:
    """The value of a setting: the environment's when set and non-empty, else its default."""
    setting = _BY_NAME[name]
    env = os.environ if environ is None else environ
    value = env.get(name, "").strip()
    return value or setting.default


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    return Path(get("FXTICKER_DATA_DIR", environ)).expanduser().absolute()


def positive_int(name: str, environ: Mapping[str, str] | None = None) -> int:
    """A setting that must be a positive whole number; a clear error otherwise."""
    raw = get(name, environ)
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number") from None
    if value <= 0:
        raise ValueError(f"{name}={raw!r} must be greater than zero")
    return value


def non_negative_number(name: str, environ: Mapping[str, str] | None = None) -> float:
    """A setting that must be a number of zero or more; a clear error otherwise."""
    raw = get(name, environ)
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"{name}={raw!r} must be a finite number of zero or more")
    return value
