"""The archive's listing (CDX) read or refused with one clear line, and the archive's settings."""

from __future__ import annotations

import datetime as dt
import json
import re

import hypothesis
import pytest
from hypothesis import strategies as st

from fxticker import settings
from fxticker.collect import archive
from fxticker.collect.archive import ArchivePolicy
from fxticker.collect.backfill import BackfillConfig


def test_the_production_pause_after_a_429_is_at_least_a_minute() -> None:
    assert ArchivePolicy(base_url="http://127.0.0.1:9").rate_limit_pause >= 60.0


@pytest.mark.parametrize(("body", "message"), [
    (b"[[\"timestamp\",\"original\"]]", "has no digest, statuscode, mimetype field"),
    (b"{\"a\": 1}", "JSON that is not a CDX table"),
    (b"[[\"timestamp\",\"original\",\"digest\",\"statuscode\",\"mimetype\"],[\"2024\",\"x\"]]",
     "row 2 does not match the field names"),
    (b"[[\"timestamp\",\"original\",\"digest\",\"statuscode\",\"mimetype\"],"
     b"[\"20241399000000\",\"https://a/\",\"D\",\"200\",\"text/html\"]]",
     "row 2: '20241399000000' is not an archive timestamp"),
    (b"[[\"timestamp\",\"original\",\"digest\",\"statuscode\",\"mimetype\"],"
     b"[\"20240101000000\",\"file:///etc/passwd\",\"D\",\"200\",\"text/html\"]]", "no http(s) URL"),
    (b"", "an empty body"),
    (b"[[\"timestamp\",\"original\",\"digest\",\"statuscode\",\"mimetype\"],"
     b"[\"20240101000000\",\"https://a/\\u0001x\",\"D\",\"200\",\"text/html\"]]", "no http(s) URL"),
    (b"[[\"timestamp\",\"original\",\"digest\",\"statuscode\",\"mimetype\"],"
     b"[\"20240101000000\",\"https://[::1/\",\"D\",\"200\",\"text/html\"]]", "no http(s) URL"),
])
def test_a_malformed_cdx_answer_is_refused_with_the_reason(body: bytes, message: str) -> None:
    with pytest.raises(archive.ArchiveUnavailable, match=re.escape(message)):
        archive.parse_cdx(body, "cdx")


def test_a_cdx_answer_with_a_resume_key_and_archived_errors() -> None:
    body = (b"[[\"timestamp\",\"original\",\"digest\",\"statuscode\",\"mimetype\"],"
            b"[\"20240101000000\",\"https://a/\",\"D1\",\"200\",\"text/html\"],"
            b"[\"20240102000000\",\"https://a/\",\"D2\",\"404\",\"text/html\"],[],[\"KEY\"]]")
    captures, key = archive.parse_cdx(body, "cdx")
    assert key == "KEY"
    assert captures == [archive.Capture("20240101000000", "https://a/", "D1", "text/html")]


@pytest.mark.parametrize(("raw", "reason"), [
    ("ftp://archive", "not an http(s) URL with a host"),
    ("web.archive.org", "not an http(s) URL with a host"),
    ("http://", "not an http(s) URL with a host"), ("http://a/?x=1", "must not carry a query or a fragment"),
    ("http://a:99999", "not an http(s) URL with a valid host and port"),
])
def test_an_archive_url_that_is_not_one_is_refused(raw: str, reason: str) -> None:
    with pytest.raises(settings.SettingError, match=re.escape(f"FXTICKER_ARCHIVE_URL='{raw}': {reason}")):
        settings.load({"FXTICKER_ARCHIVE_URL": raw})


def test_archive_settings_make_the_archive_policy() -> None:
    conf = settings.load({"FXTICKER_ARCHIVE_URL": "http://127.0.0.1:8080/pywb/",
                          "FXTICKER_ARCHIVE_DELAY": "0", "FXTICKER_FETCH_ATTEMPTS": "7"})
    policy = BackfillConfig.from_settings(conf).policy
    assert (policy.base_url, policy.delay, policy.fetch.attempts) == ("http://127.0.0.1:8080/pywb", 0.0, 7)
    assert BackfillConfig.from_settings(settings.load({})).policy.delay == 2.5


_CELLS = st.one_of(st.text(max_size=20), st.sampled_from(["20240101000000", "200", "404", "https://a/", ""]),
                   st.integers(), st.none(), st.floats(allow_nan=False))


_ROWS = st.lists(st.one_of(st.lists(_CELLS, max_size=6), _CELLS), max_size=6)


_HEADER = st.just(list(archive.CDX_FIELDS))


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(st.one_of(
    st.binary(max_size=200),
    _ROWS.map(lambda rows: json.dumps(rows).encode()),
    st.tuples(_HEADER, _ROWS).map(lambda t: json.dumps([t[0], *t[1]]).encode()),
))
def test_any_cdx_answer_gives_captures_or_one_clear_error(body: bytes) -> None:
    try:
        captures, key = archive.parse_cdx(body, "cdx")
    except archive.ArchiveUnavailable as exc:
        assert str(exc).startswith("cdx: ") and "\n" not in str(exc)
        return
    assert key is None or isinstance(key, str)
    for capture in captures:
        assert capture.captured_at.tzinfo is dt.UTC
        assert capture.replay_url("http://archive").startswith("http://archive/web/")
