"""The API's response cache as a data structure: bounded in bytes, emptied by a newer version."""

from __future__ import annotations

import datetime as dt

from fxticker.web.cache import Entry, ResponseCache


def entry(size: int) -> Entry:
    return Entry(b"x", "application/json", '"tag"', size)


def key(version: int, path: str) -> tuple[int, dt.date, str, tuple[tuple[str, str], ...]]:
    return version, dt.date(2025, 12, 19), path, ()


def test_it_is_bounded_in_bytes_least_recently_used_first() -> None:
    cache = ResponseCache(max_bytes=1000, max_entry_bytes=500)
    for i in range(4):
        cache.put(key(1, f"/{i}"), entry(300))
    assert cache.stats().entries == 3 and cache.stats().bytes == 900
    assert cache.get(key(1, "/0")) is None  # the oldest went
    cache.put(key(1, "/big"), entry(600))  # larger than one entry may be: served, not kept
    assert cache.get(key(1, "/big")) is None


def test_a_newer_version_empties_it_and_an_older_one_is_not_stored() -> None:
    cache = ResponseCache(max_bytes=1000)
    cache.put(key(1, "/a"), entry(10))
    assert cache.get(key(1, "/a")) is not None
    assert cache.get(key(2, "/a")) is None
    assert cache.stats().entries == 0 and cache.stats().version == 2
    cache.put(key(1, "/a"), entry(10))  # a slow request that read version 1 before the change
    assert cache.get(key(1, "/a")) is None and cache.stats().entries == 0
