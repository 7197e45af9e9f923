"""The README's table of limits says what the code enforces: each row against its constant or setting."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fxticker import serve, settings, vocab
from fxticker.collect import archive, fetcher
from fxticker.official import answers, plausible
from fxticker.official.banks import PEGS, PROVIDERS
from fxticker.web import dashboard, frankfurter, metrics

README = Path(__file__).resolve().parents[2] / "README.md"
NGINX_CONF = Path(__file__).resolve().parents[2] / "docker" / "nginx" / "fxticker.conf"


def rows() -> dict[str, str]:
    text = README.read_text()
    section = text.split("### Limits an operator can rely on", 1)[1].split("\n## ", 1)[0]
    table = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    return {cells[0]: cells[1] for cells in (line.strip("| ").split(" | ") for line in table[1:])}


def setting(name: str) -> settings.Setting[object]:
    [found] = [s for s in settings.SETTINGS if s.name == name]
    return found


def amount(value: int) -> str:
    return f"{value:,}"


def test_every_row_states_the_enforced_value() -> None:
    table = rows()
    page = setting("FXTICKER_MAX_PAGE_BYTES")
    assert isinstance(page.parse, settings.Whole) and isinstance(page.default, int)
    assert (f"default {amount(page.default)} bytes ({page.parse.low} to {amount(page.parse.high)})"
            in table["a page read (URL, file, sample)"])
    workers, pool = settings.WORKERS, setting("FXTICKER_POOL_SIZE").parse
    assert isinstance(pool, settings.Whole)
    assert (f"{workers.low} to {workers.high}, each with {serve.ServeOptions.threads} threads and a "
            f"database pool of `FXTICKER_POOL_SIZE` ({pool.low} to {pool.high})"
            in table["gunicorn workers"])
    assert table["reading one request"].startswith(f"{serve.REQUEST_READ_TIMEOUT} s from its first byte")
    assert f"closed after {serve.KEEPALIVE} s" in table["reading one request"]
    assert table["idle keep-alive connection"] == f"{serve.KEEPALIVE} s (`KEEPALIVE`)"
    assert table["request line"] == f"{serve.LIMIT_REQUEST_LINE} bytes (`LIMIT_REQUEST_LINE`)"
    assert table["header fields"] == (
        f"{serve.LIMIT_REQUEST_FIELDS} fields (`LIMIT_REQUEST_FIELDS`) of at most "
        f"{serve.LIMIT_REQUEST_FIELD_SIZE} bytes (`LIMIT_REQUEST_FIELD_SIZE`)")
    assert table["a request in the app"].startswith(f"{serve.ServeOptions.timeout} s of silence")
    words = {9: "nine", 10: "ten"}
    assert (f"method: one of HTTP's {words[len(metrics.METHODS)]} or `{metrics.OTHER}`"
            in table["`/metrics` labels"])
    assert table["`/v2` rows computed per worker"] == f"{amount(frankfurter.COMPUTED_ROWS)} (`COMPUTED_ROWS`)"
    assert table["dashboard"].startswith(f"{dashboard.MAX_POINTS} points per currency")
    assert f"{amount(dashboard.MAX_REVISION_ROWS)} revisions listed" in table["dashboard"]
    fetching = table["fetching"]
    assert f"default {setting('FXTICKER_FETCH_TIMEOUT').default} s" in fetching
    assert f"default {setting('FXTICKER_FETCH_ATTEMPTS').default})" in fetching
    assert f"honoured up to {fetcher.FetchPolicy.max_wait:.0f} s" in fetching
    assert f"up to {fetcher.ROBOTS_MAX_BYTES // 1024} KiB" in fetching
    deadline = fetcher.FetchPolicy(timeout=setting("FXTICKER_FETCH_TIMEOUT").default).answer_deadline
    answer_time = table["a fetched answer's time (page, archive capture, bank answer)"]
    assert (f"within {fetcher.ANSWER_TIMEOUTS} times `FXTICKER_FETCH_TIMEOUT` (`ANSWER_TIMEOUTS`; "
            f"{deadline:.0f} s by default)" in answer_time)
    listing = table["an archive's capture list"]
    assert (f"{amount(archive.MAX_CDX_PAGES)} pages (`MAX_CDX_PAGES`), {amount(archive.MAX_CDX_ROWS)} rows "
            f"(`MAX_CDX_ROWS`) or {amount(archive.MAX_CDX_BYTES)} bytes (`MAX_CDX_BYTES`)" in listing)
    assert f"at most {amount(archive.MAX_RESUME_KEY_CHARS)} characters" in listing
    fields = archive.FIELD_CHARS
    assert (f"`original` at most {amount(fields['original'])} characters, `digest` {fields['digest']}, "
            f"`mimetype` {fields['mimetype']} (`FIELD_CHARS`)" in listing)
    assert (f"from {vocab.EARLIEST} (`vocab.EARLIEST`, before any ticker) to a day ahead"
            in table["an archive capture's time"] and archive.FUTURE_SLACK.days == 1)
    starts = ", ".join(f"{key} {bank.coverage_start}" for key, bank in PROVIDERS.items() if key not in PEGS)
    assert f"({starts}, `Bank.coverage_start`) to tomorrow" in table["a bank's rate date"]
    assert answers.DAYS_AHEAD == 1
    assert (f"{answers.LOWEST_PER_USD:f} to {answers.HIGHEST_PER_USD:,f} units per USD, always"
            in table["a bank's rate"])
    assert f"within {plausible.FACTOR} times (`FACTOR`) either way" in table["a bank's rate"]
    assert plausible.NEIGHBOUR_SPAN.days == 365 and "within a year" in table["a bank's rate"]
    assert (f"over {fetcher.FetchPolicy.max_wait:.0f} s on a 429 or a 5xx"
            in table["a long `Retry-After`"])


@pytest.mark.parametrize(("directive", "stated"), [
    ("client_header_timeout", "10s"), ("client_body_timeout", "10s"), ("client_max_body_size", "16k"),
    ("proxy_read_timeout", "60s"),
])
def test_the_nginx_row_matches_its_file(directive: str, stated: str) -> None:
    match = re.search(rf"^\s*{directive} (\S+);", NGINX_CONF.read_text(), re.MULTILINE)
    assert match and match[1] == stated
    row = rows()["behind nginx (docker-compose)"]
    assert {"10s": "10 s", "16k": "16 KiB", "60s": "60 s"}[stated] in row
