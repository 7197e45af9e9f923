"""Fetching: a page's bytes from a URL (or a file, through fxticker.collect.sources), politely, with when and
where they came from.

Polite means: an identifying User-Agent and an Accept header, connect and read timeouts, a bounded number of
retries with exponential backoff and jitter (honouring Retry-After), conditional GET with the validators the
caller kept from last time, robots.txt obeyed (RFC 9309, cached per site) and a cap on the body size.
Fetching knows HTTP, not SQL: validators come in and go out as plain values.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import threading
import time
import urllib.robotparser
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx
import tenacity

from fxticker import __version__, settings
from fxticker.collect import bounded
from fxticker.collect.sources import FetchError, Page, Validators, read_file
from fxticker.inputs import http_url, is_url, shown, without_credentials

log = logging.getLogger(__name__)

USER_AGENT = f"fxticker/{__version__} (+https://github.com/fxticker/fxticker)"
ROBOTS_AGENT = "fxticker"
ACCEPT = "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.5"
# RFC 9309 lets a crawler stop reading robots.txt after 500 KiB.
ROBOTS_MAX_BYTES = 500 * 1024
# A whole answer may take this many times FXTICKER_FETCH_TIMEOUT (a minute by default): a page of the
# ticker's size comes in a second or two, and a server that sends a byte now and then must not hold a
# run for ever (the timeout bounds each read, not the answer).
ANSWER_TIMEOUTS = 3


class WaitTooLong(FetchError):
    """A 429 or 5xx whose Retry-After is longer than fxticker waits: the source fails now."""

    def __init__(self, message: str, status: int, retry_after: float) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after


class Retryable(FetchError):
    """A failure worth another attempt: the network, a 5xx or a 429."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after


@dataclass(frozen=True)
class FetchPolicy:
    """How patient and how polite one fetch is. Tests shorten the waits; nothing else changes."""

    timeout: float = float(settings.default("FXTICKER_FETCH_TIMEOUT"))
    connect_timeout: float = 10.0
    attempts: int = settings.default("FXTICKER_FETCH_ATTEMPTS")
    # The first wait; each retry doubles it, plus up to as much again in jitter.
    backoff: float = settings.default("FXTICKER_RETRY_BACKOFF")
    max_wait: float = 60.0  # the longest single wait, Retry-After included
    robots_ttl: float = 3600.0
    # The whole answer of one request (connecting, headers, every byte of the body) within this many
    # seconds; None: ANSWER_TIMEOUTS times `timeout`.
    deadline: float | None = None

    @property
    def answer_deadline(self) -> float:
        return self.deadline if self.deadline is not None else ANSWER_TIMEOUTS * self.timeout

    @classmethod
    def from_settings(cls, conf: settings.Settings) -> FetchPolicy:
        """The policy of every fetch (pages, archive, banks): one home for politeness."""
        timeout = float(conf.fetch_timeout)
        return cls(timeout=timeout, connect_timeout=min(10.0, timeout), attempts=conf.fetch_attempts,
                   backoff=conf.retry_backoff)


def make_client(policy: FetchPolicy | None = None) -> httpx.Client:
    """An HTTP client that identifies itself and gives up on silent servers."""
    policy = policy or FetchPolicy()
    return httpx.Client(
        timeout=httpx.Timeout(policy.timeout, connect=policy.connect_timeout),
        headers={"User-Agent": USER_AGENT, "Accept": ACCEPT, "Accept-Encoding": bounded.ACCEPT_ENCODING},
        follow_redirects=True,
    )


def retry_after_seconds(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Retry-After as seconds from now: it is either a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


@dataclass(frozen=True)
class HttpAnswer:
    """An HTTP answer read whole: its status, body (decoded) and headers."""

    status: int
    body: bytes
    headers: httpx.Headers


def basic_auth(url: str) -> httpx.BasicAuth | None:
    """The user name and password a URL carries, as Basic auth; None when it carries none."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.username is None and parts.password is None:
        return None
    return httpx.BasicAuth(unquote(parts.username or ""), unquote(parts.password or ""))


def get_once(client: httpx.Client, url: str, headers: dict[str, str], max_bytes: int,
             policy: FetchPolicy) -> HttpAnswer:
    """One GET read whole, or Retryable (worth another attempt) or FetchError (not)."""
    check_url(url)
    name = without_credentials(url)
    deadline = bounded.Deadline(policy.answer_deadline)
    try:
        # The URL's credentials go as Basic auth, so that no log line (httpx's included) shows them.
        with client.stream("GET", name, headers=headers, auth=basic_auth(url) or httpx.USE_CLIENT_DEFAULT,
                           extensions={"trace": deadline.trace}) as response:
            deadline.watch(response.extensions.get("network_stream"))
            status = response.status_code
            if status == 429 or status >= 500:
                wait = retry_after_seconds(response.headers.get("retry-after"))
                if wait is not None and wait > policy.max_wait:
                    # Honouring it would hold the whole run; give up now and try at the next run.
                    raise WaitTooLong(f"{name}: HTTP {status}; the server asks to wait {wait:.0f} s, "
                                      f"longer than the {policy.max_wait:.0f} s fxticker waits", status, wait)
                raise Retryable(f"{name}: HTTP {status}", status, wait)
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(
                    f"{name}: {int(declared):,} bytes declared, over the {max_bytes:,}-byte limit", status)
            try:
                body = bounded.read(response, max_bytes, deadline)
            except bounded.TooLarge:
                raise FetchError(f"{name}: body over the {max_bytes:,}-byte limit", status) from None
            except bounded.BadEncoding as exc:
                raise FetchError(f"{name}: {exc}", status) from None
            return HttpAnswer(status, body, response.headers)
    except (TimeoutError, httpx.HTTPError) as exc:
        if deadline.expired:
            # Not retried: a server this slow would be as slow again.
            raise FetchError(f"{name}: no whole answer within {deadline.seconds:g} s") from None
        if isinstance(exc, httpx.TimeoutException):
            raise Retryable(f"{name}: timed out ({type(exc).__name__})") from None
        if isinstance(exc, httpx.TransportError):
            raise Retryable(f"{name}: {type(exc).__name__}: {exc}") from None
        raise FetchError(f"{name}: {type(exc).__name__}: {exc}") from None
    except httpx.InvalidURL as exc:
        raise FetchError(f"{name}: not a URL a request can be made to ({exc})") from None
    finally:
        deadline.cancel()


def _wait(policy: FetchPolicy) -> Callable[[tenacity.RetryCallState], float]:
    backoff = tenacity.wait_exponential_jitter(multiplier=policy.backoff, max=policy.max_wait,
                                               jitter=policy.backoff)

    def wait(state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, Retryable) and error.retry_after is not None:
            return min(error.retry_after, policy.max_wait)
        return min(backoff(state), policy.max_wait)

    return wait


def _log_retry(state: tenacity.RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    log.info("%s; attempt %d failed, retrying in %.1f s", error, state.attempt_number, wait)


def retrying(policy: FetchPolicy, sleep: Callable[[float], None] = time.sleep) -> tenacity.Retrying:
    """The retry core every fetch shares: up to `policy.attempts` tries of what raises Retryable, with
    exponential backoff and jitter, Retry-After honoured up to `policy.max_wait`, each retry logged."""
    # tenacity rather than a hand-written loop: its waits, stop conditions and hooks are well tested,
    # and a custom wait function is all it takes to honour Retry-After.
    return tenacity.Retrying(
        stop=tenacity.stop_after_attempt(max(1, policy.attempts)),
        wait=_wait(policy),
        retry=tenacity.retry_if_exception_type(Retryable),
        before_sleep=_log_retry,
        sleep=sleep,
        reraise=True,
    )


def gave_up(exc: Retryable, policy: FetchPolicy) -> FetchError:
    """The error of a fetch whose every attempt failed: the last failure, and how many attempts."""
    attempts = max(1, policy.attempts)
    plural = "s" if attempts > 1 else ""
    return FetchError(f"{exc} (after {attempts} attempt{plural})", exc.status)


def get(client: httpx.Client, url: str, *, headers: dict[str, str] | None = None, max_bytes: int,
        policy: FetchPolicy, sleep: Callable[[float], None] = time.sleep) -> HttpAnswer:
    """GET with retries on the network, 5xx and 429; other statuses are returned as they are."""
    try:
        return retrying(policy, sleep)(get_once, client, url, headers or {}, max_bytes, policy)
    except Retryable as exc:
        raise gave_up(exc, policy) from None


class RobotsCache:
    """robots.txt per site, read once per `policy.robots_ttl` seconds, and asked before every page."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._rules: dict[str, tuple[float, urllib.robotparser.RobotFileParser]] = {}
        self._lock = threading.Lock()

    def check(self, client: httpx.Client, url: str, policy: FetchPolicy,
              sleep: Callable[[float], None] = time.sleep) -> None:
        """Raise FetchError when robots.txt forbids fxticker the URL, or cannot be read (RFC 9309)."""
        parts = urlsplit(url)
        origin = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
        with self._lock:
            cached = self._rules.get(origin)
        if cached is None or self._clock() - cached[0] > policy.robots_ttl:
            rules = self._read(client, origin + "/robots.txt", policy, sleep)
            cached = (self._clock(), rules)
            with self._lock:
                self._rules[origin] = cached
        if not cached[1].can_fetch(ROBOTS_AGENT, url):
            robots = without_credentials(origin) + "/robots.txt"
            raise FetchError(f"{without_credentials(url)}: disallowed by {robots}")

    @staticmethod
    def _read(client: httpx.Client, robots_url: str, policy: FetchPolicy,
              sleep: Callable[[float], None]) -> urllib.robotparser.RobotFileParser:
        rules = urllib.robotparser.RobotFileParser(robots_url)
        try:
            answer = get(client, robots_url, max_bytes=10 * ROBOTS_MAX_BYTES, policy=policy, sleep=sleep)
        except FetchError as exc:
            # RFC 9309: an unreachable robots.txt means "assume complete disallow"; not cached.
            raise FetchError(f"robots.txt unreadable, so not fetching: {exc}") from None
        if answer.status >= 400:
            rules.parse([])  # RFC 9309: 4xx means there are no rules
        else:
            text = answer.body[:ROBOTS_MAX_BYTES].decode("utf-8", errors="replace")
            rules.parse(text.splitlines())
        return rules


def check_url(url: str) -> None:
    """Raise FetchError, at once and never retried, for a URL that no request could reach."""
    try:
        http_url(url)
    except ValueError as exc:
        # Named as given when it is printable, the way every other fetch message names its URL.
        name = without_credentials(url)
        name = name if name.isprintable() and name.isascii() else shown(name, 200)
        raise FetchError(f"{name}: {exc}") from None


def fetch_url(
    url: str,
    max_bytes: int,
    client: httpx.Client | None = None,
    *,
    validators: Validators | None = None,
    policy: FetchPolicy | None = None,
    robots: RobotsCache | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Page:
    """GET one page: robots.txt first (when a cache is given), conditional on `validators`, with retries.

    A 304 comes back as a Page with status 304 and no body; its validators are the ones sent.
    """
    check_url(url)
    # The page's source, stored and shown, never carries the URL's credentials; the request does.
    name = without_credentials(url)
    policy = policy or FetchPolicy()
    own = client is None
    http = client or make_client(policy)
    try:
        if robots is not None:
            robots.check(http, url, policy, sleep)
        headers = validators.headers() if validators else {}
        answer = get(http, url, headers=headers, max_bytes=max_bytes, policy=policy, sleep=sleep)
        seen_at = dt.datetime.now(dt.UTC)
        if answer.status == 304:
            return Page(name, b"", None, seen_at, is_file=False, status=304, validators=validators)
        if answer.status >= 400:
            raise FetchError(f"{name}: HTTP {answer.status}", answer.status)
        return Page(
            name,
            answer.body,
            answer.headers.get("content-type"),
            seen_at,
            is_file=False,
            status=answer.status,
            validators=Validators(answer.headers.get("etag"), answer.headers.get("last-modified")),
        )
    finally:
        if own:
            http.close()


def load(source: str, max_bytes: int) -> Page:
    """A page from a URL (fetched) or a file path (read)."""
    if is_url(source):
        return fetch_url(source, max_bytes)
    return read_file(source, max_bytes)
