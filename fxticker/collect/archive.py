"""Web archives: the captures a Wayback-compatible archive holds of a page (CDX), and their original bytes.

Speaks the protocol of the Wayback Machine, pywb and OpenWayback under any base URL: the CDX listing at
`{archive}/cdx/search/cdx` (JSON, paged with resume keys), and a capture's bytes as captured at
`{archive}/web/{timestamp}id_/{original}` (never the toolbar page). Politely: one request at a time, a
delay between two, retries with backoff on the network and 5xx, and on a 429 every request to the archive
waits (Retry-After, else at least a minute, doubling while the 429s go on). Knows HTTP, not SQL.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin

import httpx

from fxticker import settings, vocab
from fxticker.collect import fetcher
from fxticker.collect.fetcher import FetchPolicy, HttpAnswer, Retryable, make_client
from fxticker.collect.sources import FetchError, Page
from fxticker.inputs import http_url, shown, without_credentials

log = logging.getLogger(__name__)

CDX_PATH = "/cdx/search/cdx"
CDX_FIELDS = ("timestamp", "original", "digest", "statuscode", "mimetype")
# Staff of the Internet Archive: ignoring 429s for over a minute gets an IP firewalled for an hour.
RATE_LIMIT_PAUSE = 60.0
# A 429 pause longer than this stops the run rather than hold it for hours; a re-run resumes.
MAX_RATE_LIMIT_PAUSE = 3600.0
CDX_PAGE_SIZE = 1000
# A listing that pages on for ever (a fresh resume key on every page) is the archive's fault, not ours to
# follow: a listing stops at whichever of these comes first. The ticker's page has a few thousand
# captures; a page of CDX is about 150 bytes a row.
MAX_CDX_PAGES = 1_000
MAX_CDX_ROWS = 100_000
MAX_CDX_BYTES = 64 * 1024 * 1024
MAX_RESUME_KEY_CHARS = 1_000
# A row's fields as archive_capture can hold them (a btree index entry takes about 2,700 bytes at most,
# and (archive, original, captured_at) is one): a longer field is that row's fault, refused alone.
FIELD_CHARS = {"original": 2_048, "digest": 128, "mimetype": 255}
# A capture time is believed from the ticker's first day to a day ahead of this machine's clock.
FUTURE_SLACK = dt.timedelta(days=1)
MAX_REDIRECTS = 5
# A Retry-After of 0 (or a date past) would let a loop of 429s hammer the archive; doubling from here ends it.
MIN_RETRY_AFTER = 1.0
_TIMESTAMP_FORMAT = "%Y%m%d%H%M%S"
_TIMESTAMP = re.compile(r"[0-9]{14}")
_REPLAY = re.compile(r"/web/([0-9]{14})id_/(https?://.+)", re.IGNORECASE)
_REDIRECTS = (301, 302, 303, 307, 308)


class ArchiveError(RuntimeError):
    """Something the archive did; the message names the request and says what."""


class ArchiveUnavailable(ArchiveError):
    """The archive cannot be used for now (no listing, or it keeps refusing): the run stops."""


class CaptureFailed(ArchiveError):
    """A capture could not be fetched after retries; a later run tries it again."""


class CaptureRejected(ArchiveError):
    """The archive answered, but not with a capture of the page that can be read (an archived 404...)."""


def timestamp_of(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime(_TIMESTAMP_FORMAT)


def parse_timestamp(text: str) -> dt.datetime:
    """A CDX timestamp (14 digits, UTC) as an aware datetime; ValueError when it is not one."""
    try:
        if not _TIMESTAMP.fullmatch(text):
            raise ValueError
        return dt.datetime.strptime(text, _TIMESTAMP_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError:
        raise ValueError(f"{shown(text)} is not an archive timestamp (YYYYMMDDhhmmss, UTC)") from None


@dataclass(frozen=True)
class Capture:
    """One row of the archive's listing: a page as captured at one instant."""

    timestamp: str
    original: str
    digest: str
    mimetype: str

    @property
    def captured_at(self) -> dt.datetime:
        return parse_timestamp(self.timestamp)

    def replay_url(self, archive: str) -> str:
        """The capture's original bytes: the `id_` mode, without the archive's toolbar or rewriting."""
        return f"{archive}/web/{self.timestamp}id_/{self.original}"


@dataclass(frozen=True)
class ArchivePolicy:
    """Where the archive is and how politely to use it. Tests shorten the waits; nothing else changes."""

    base_url: str  # without its trailing slash (settings.ARCHIVE_URL)
    delay: float = settings.default("FXTICKER_ARCHIVE_DELAY")  # seconds between two requests to it
    page_size: int = CDX_PAGE_SIZE
    # The pause after a 429 without Retry-After, doubled for each further 429 in a row.
    rate_limit_pause: float = RATE_LIMIT_PAUSE
    max_rate_limit_pause: float = MAX_RATE_LIMIT_PAUSE
    fetch: FetchPolicy = field(default_factory=FetchPolicy)


class _RateLimited(Exception):
    """A 429: not an attempt used up, a pause for every request (set before this is raised)."""


def parse_cdx(body: bytes, where: str,
              refused: list[str] | None = None) -> tuple[list[Capture], str | None]:
    """A CDX JSON answer: its captures of status 200, and the resume key of the next page (if any).

    A row that cannot be a capture fxticker records (a field too long, a time outside what it believes,
    no http(s) URL) is left out, its reason added to `refused`; a table that is not CDX stops the run.
    """
    try:
        rows = json.loads(body)
    except RecursionError:
        raise ArchiveUnavailable(f"{where}: the archive answered JSON nested too deeply to be CDX") from None
    except (ValueError, UnicodeDecodeError):
        head = body.lstrip()[:1]
        kind = "HTML" if head == b"<" else "text" if body.strip() else "an empty body"
        raise ArchiveUnavailable(f"{where}: the archive answered {kind}, not CDX JSON") from None
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise ArchiveUnavailable(f"{where}: the archive answered JSON that is not a CDX table")
    if not rows:
        return [], None
    header, *rest = rows
    missing = [name for name in CDX_FIELDS if name not in header]
    if missing:
        raise ArchiveUnavailable(f"{where}: the CDX answer has no {', '.join(missing)} field")
    index = {name: header.index(name) for name in CDX_FIELDS}
    key = None
    if len(rest) >= 2 and rest[-2] == [] and len(rest[-1]) == 1 and isinstance(rest[-1][0], str):
        key = rest[-1][0] or None
        rest = rest[:-2]
    captures = []
    for number, row in enumerate(rest, start=2):
        if len(row) != len(header) or not all(isinstance(value, str) for value in row):
            raise ArchiveUnavailable(f"{where}: CDX row {number} does not match the field names")
        values = {name: row[i] for name, i in index.items()}
        if values["statuscode"] != "200":
            continue  # an archived error or redirect, should the archive not apply the filter
        try:
            _check_row(values)
        except ValueError as exc:
            if refused is None:
                raise ArchiveUnavailable(f"{where}: CDX row {number}: {exc}") from None
            refused.append(f"{where}: CDX row {number}: {exc}")
            continue
        captures.append(Capture(values["timestamp"], values["original"], values["digest"],
                                values["mimetype"]))
    return captures, key


def _check_row(values: dict[str, str]) -> None:
    """ValueError with the reason when a CDX row cannot be a capture fxticker records."""
    for name, limit in FIELD_CHARS.items():
        if len(values[name]) > limit:
            raise ValueError(f"its {name} is {len(values[name]):,} characters, over the {limit:,} "
                             "a capture is recorded with")
    believable(parse_timestamp(values["timestamp"]), "its timestamp")
    if not _is_http_url(values["original"]) or not values["digest"]:
        raise ValueError("it has no http(s) URL or no digest")


def believable(moment: dt.datetime, what: str) -> dt.datetime:
    """The capture time when fxticker believes it: not before the ticker's first day (vocab.EARLIEST),
    not more than FUTURE_SLACK ahead of now; ValueError naming `what` otherwise."""
    if moment.date() < vocab.EARLIEST:
        raise ValueError(f"{what} {moment.isoformat()} is before {vocab.EARLIEST}, older than any ticker")
    if moment > dt.datetime.now(dt.UTC) + FUTURE_SLACK:
        raise ValueError(f"{what} {moment.isoformat()} is more than a day in the future")
    return moment


class Archive:
    """One archive, used one request at a time: a delay between requests, a pause for all after a 429."""

    def __init__(self, policy: ArchivePolicy, max_bytes: int, *, client: httpx.Client | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        # The archive's credentials (FXTICKER_ARCHIVE_URL's user:password@) go with every request as
        # Basic auth and nowhere else: every URL built here, stored as a source or shown, is without them.
        auth = fetcher.basic_auth(policy.base_url)
        self.policy = dataclasses.replace(policy, base_url=without_credentials(policy.base_url))
        self.max_bytes = max_bytes
        self._client = client or make_client(policy.fetch)
        if auth is not None:
            self._client.auth = auth
        # Redirects are followed here, one hop at a time, so that each hop is checked and throttled.
        self._client.follow_redirects = False
        self._sleep = sleep
        self._clock = clock
        self._next_request = 0.0  # clock time before which no request may start
        self.refused: list[str] = []  # listed rows left out, one line each: where, which row, why
        self._rate_limited = 0  # 429s in a row

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ---- the protocol -----------------------------------------------------------------------------

    def captures(self, url: str, since: dt.date | None, until: dt.date | None) -> list[Capture]:
        """Every capture of `url` with status 200 from `since` to `until` (UTC days, both included)."""
        url = without_credentials(url)  # the site's credentials are not the archive's business
        cdx = self.policy.base_url + CDX_PATH
        params = {
            "url": url,
            "output": "json",
            "fl": ",".join(CDX_FIELDS),
            "filter": "statuscode:200",
            "limit": str(self.policy.page_size),
            "showResumeKey": "true",
        }
        if since is not None:
            params["from"] = since.strftime("%Y%m%d")
        if until is not None:
            params["to"] = until.strftime("%Y%m%d")
        found: list[Capture] = []
        keys: set[str] = set()
        where = f"{cdx} (captures of {url})"
        rows_read = bytes_read = 0
        for _page in range(MAX_CDX_PAGES):
            try:
                answer = self._get(str(httpx.URL(cdx, params=params)))
            except FetchError as exc:
                raise ArchiveUnavailable(f"{where}: {exc}") from None
            if answer.status != 200:
                raise ArchiveUnavailable(f"{where}: HTTP {answer.status}")
            bytes_read += len(answer.body)
            refused: list[str] = []
            rows, key = parse_cdx(answer.body, where, refused)
            self.refused.extend(refused)
            rows_read += len(rows) + len(refused)
            if rows_read > MAX_CDX_ROWS or bytes_read > MAX_CDX_BYTES:
                raise ArchiveUnavailable(f"{where}: the list goes on past {MAX_CDX_ROWS:,} rows or "
                                         f"{MAX_CDX_BYTES:,} bytes")
            found.extend(c for c in rows if _within(c.captured_at.date(), since, until))
            if key is None:
                return found
            if len(key) > MAX_RESUME_KEY_CHARS:
                raise ArchiveUnavailable(f"{where}: a resume key of {len(key):,} characters")
            if key in keys:
                raise ArchiveUnavailable(f"{where}: the resume key {shown(key)} came back twice")
            keys.add(key)
            params["resumeKey"] = key
        raise ArchiveUnavailable(f"{where}: the list goes on past {MAX_CDX_PAGES:,} pages")

    def fetch(self, capture: Capture) -> Page:
        """The capture's original bytes, dated and sourced by the capture the archive actually served.

        An inexact timestamp redirects to the nearest capture; Memento-Datetime says which one was served.
        """
        url = start = capture.replay_url(self.policy.base_url)
        for _hop in range(MAX_REDIRECTS + 1):
            try:
                answer = self._get(url)
            except FetchError as exc:
                raise CaptureFailed(str(exc)) from None
            if answer.status not in _REDIRECTS:
                return self._page(url, answer)
            location = answer.headers.get("location")
            if not location:
                raise CaptureRejected(f"{url}: HTTP {answer.status} without a Location")
            try:
                url = urljoin(url, location)
            except ValueError:  # an unclosed IPv6 bracket, say
                raise CaptureRejected(f"{start}: redirected to an invalid URL {shown(location)}") from None
            if self._replayed(url) is None or not _is_http_url(url):
                raise CaptureRejected(f"{start}: redirected to {url}, which is not an original capture "
                                      f"(id_) on {self.policy.base_url}")
        raise CaptureRejected(f"{start}: more than {MAX_REDIRECTS} redirects")

    def _replayed(self, url: str) -> tuple[str, str] | None:
        """(timestamp, original) of an `id_` URL on this archive; None for any other URL."""
        base = self.policy.base_url
        if not url.startswith(base + "/"):
            return None
        match = _REPLAY.fullmatch(url[len(base):])
        return (match[1], match[2]) if match else None

    def _page(self, url: str, answer: HttpAnswer) -> Page:
        replayed = self._replayed(url)
        assert replayed is not None  # fetch() follows only id_ URLs
        timestamp, original = replayed
        memento = answer.headers.get("memento-datetime")
        if answer.status != 200:
            if memento:
                raise CaptureRejected(f"{url}: the archived page is an HTTP {answer.status}")
            raise CaptureFailed(f"{url}: HTTP {answer.status}")
        served = parse_timestamp(timestamp)
        if memento:
            try:
                served = email.utils.parsedate_to_datetime(memento).astimezone(dt.UTC)
            except (TypeError, ValueError, OverflowError):
                raise CaptureRejected(f"{url}: unreadable Memento-Datetime {shown(memento)}") from None
        try:
            believable(served, "Memento-Datetime")
        except ValueError as exc:
            raise CaptureRejected(f"{url}: {exc}") from None
        if timestamp_of(served) != timestamp:
            log.info("%s: the archive served the capture of %s", url, served.isoformat())
        source = f"{self.policy.base_url}/web/{timestamp_of(served)}id_/{original}"
        return Page(source, answer.body, answer.headers.get("content-type"), served, is_file=False,
                    status=answer.status)

    # ---- politeness -------------------------------------------------------------------------------

    def _get(self, url: str) -> HttpAnswer:
        """GET with fetcher's retries on the network and 5xx, and pauses for every request on a 429."""
        retrying = fetcher.retrying(self.policy.fetch, self._sleep)
        while True:
            try:
                answer = retrying(self._once, url)
            except _RateLimited:
                continue  # the pause is already set; not an attempt used up
            except Retryable as exc:
                raise fetcher.gave_up(exc, self.policy.fetch) from None
            self._rate_limited = 0
            return answer

    def _once(self, url: str) -> HttpAnswer:
        wait = self._next_request - self._clock()
        if wait > 0:
            self._sleep(wait)
        try:
            return fetcher.get_once(self._client, url, {}, self.max_bytes, self.policy.fetch)
        except (Retryable, fetcher.WaitTooLong) as exc:
            # A 429's Retry-After, however long, is honoured up to the archive's own cap (_pause); a
            # 5xx asking for more than fetcher waits fails the request at once, as for any fetch.
            if exc.status == 429:
                self._pause(url, exc.retry_after)
                raise _RateLimited from None
            raise
        finally:
            self._next_request = max(self._next_request, self._clock() + self.policy.delay)

    def _pause(self, url: str, retry_after: float | None) -> None:
        self._rate_limited += 1
        first = (max(retry_after, MIN_RETRY_AFTER) if retry_after is not None
                 else self.policy.rate_limit_pause)
        pause = first * 2 ** (self._rate_limited - 1)
        if pause > self.policy.max_rate_limit_pause:
            raise ArchiveUnavailable(
                f"{url}: HTTP 429 ({self._rate_limited} in a row); the next pause would be {pause:.0f} s, "
                f"over {self.policy.max_rate_limit_pause:.0f} s: stopped, run again later to resume")
        log.warning("%s: HTTP 429 (%d in a row): pausing every request to the archive for %.1f s%s", url,
                    self._rate_limited, pause, " (Retry-After)" if retry_after is not None else "")
        self._next_request = max(self._next_request, self._clock() + pause)


def _is_http_url(text: str) -> bool:
    try:
        http_url(text)
    except ValueError:
        return False
    return True


def _within(day: dt.date, since: dt.date | None, until: dt.date | None) -> bool:
    return (since is None or day >= since) and (until is None or day <= until)

