"""Fetch rules that need no server: Retry-After read as seconds or as a date, and a malformed URL
refused at once."""

from __future__ import annotations

import datetime as dt

import pytest

from fxticker.collect.fetcher import FetchPolicy, RobotsCache, fetch_url, retry_after_seconds
from fxticker.collect.sources import FetchError
from fxticker.inputs import shown

# Three attempts allowed: a malformed URL must use none of the retries.
RETRYING = FetchPolicy(timeout=0.3, connect_timeout=0.3, attempts=3, backoff=0.01, max_wait=0.5)


def test_retry_after_as_an_http_date() -> None:
    now = dt.datetime(2025, 12, 19, 10, 0, 0, tzinfo=dt.UTC)
    assert retry_after_seconds("Fri, 19 Dec 2025 10:00:30 GMT", now) == 30.0
    assert retry_after_seconds("Fri, 19 Dec 2025 09:00:00 GMT", now) == 0.0
    assert retry_after_seconds("120", now) == 120.0
    assert retry_after_seconds("soon", now) is None


@pytest.mark.parametrize(("url", "reason"), [
    ("https://host:abc/", "with a valid host and port"),
    ("https://[::1/", "with a valid host and port"),
    ("http://", "with a host"),
    ("https:///page", "with a host"),
    ("http://a\x00b/", "a space or a control character"),
])
def test_a_malformed_url_fails_at_once_and_names_the_reason(url: str, reason: str) -> None:
    slept: list[float] = []
    with pytest.raises(FetchError, match=rf"not an http\(s\) URL.*{reason}") as error:
        fetch_url(url, 10**6, policy=RETRYING, robots=RobotsCache(), sleep=slept.append)
    assert str(error.value).startswith((url if url.isprintable() else shown(url, 200)) + ": ")
    assert slept == []  # no retries: it could never succeed
