"""Hostile pages through the real `fxticker ingest`: rejected with a reason, or stored exactly.

The corpus is tests/hostile/ with its manifest expected.toml; the huge pages are written at test time.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner, Result

from fxticker import cli
from tests.fix_reliability import record_figure
from tests.pages import html_page, text_page

pytestmark = pytest.mark.reliability

CORPUS = Path(__file__).parent / "hostile"
MANIFEST: dict[str, dict[str, Any]] = tomllib.loads((CORPUS / "expected.toml").read_text("utf-8"))["pages"]
DIRECTORY_DATE = "2025-11-30"  # the --date of the whole-directory run; undated accepted pages expect it
FIVE_ROWS = {
    ("KGS", "0.01144", "0", "flat"), ("KZT", "0.00193", "0", "down"), ("TJS", "0.10851", "0.28", "up"),
    ("UZS", "0.00008", "0", "flat"), ("TMT", "0.28490", "0", "flat"),
}

Row = tuple[str, str, str, str, str]  # date, currency, rate, change_pct, direction: as the table shows them


def stored(db_url: str) -> list[tuple[Row, int]]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT rate_date::text, currency, rate::text, change_pct::text, direction, sightings"
            " FROM observation ORDER BY 1, 2, 3"
        ).fetchall()
    return [((r[0], r[1], r[2], r[3], r[4]), r[5]) for r in rows]


def expected_rows(case: dict[str, Any]) -> set[Row]:
    rows: set[Row] = set()
    for row in case.get("rows", []):
        currency, rate, change, direction = row.split(" ")
        rows.add((case["date"], currency, rate, change, direction))
    return rows


def ingest(args: list[str]) -> Result:
    result = CliRunner().invoke(cli.main, ["ingest", *args])
    # Anything but the CLI's own exit is an exception a user would see as a traceback.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def rejection(result: Result, source: Path) -> str:
    """The one reason `ingest` gave for the one page it read, after checking the report's shape."""
    lines = result.stderr.splitlines()
    assert result.exit_code == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert len(lines) == 2, lines
    assert lines[1] == "1 page(s) read, 0 observation(s) new, 0 duplicate(s), 1 page(s) rejected"
    prefix = f"rejected {source}: "
    assert lines[0].startswith(prefix), lines[0]
    reason = lines[0].removeprefix(prefix)
    assert 0 < len(reason) < 200, "a reason is one short line"
    return reason


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_each_hostile_page_is_rejected_with_its_reason_or_stored_exactly(
    name: str, env: dict[str, str], db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = MANIFEST[name]
    for setting, value in case.get("env", {}).items():
        monkeypatch.setenv(setting, value)
    source = CORPUS / name
    result = ingest([*(["--date", case["ingest_date"]] if "ingest_date" in case else []), str(source)])
    if "reject" in case:
        assert case["reject"] in rejection(result, source)
        assert stored(db_url) == []
    else:
        assert result.exit_code == 0, result.stderr
        want = expected_rows(case)
        assert f"1 page(s) read, {len(want)} observation(s) new, 0 duplicate(s), 0 page(s) rejected" in (
            result.stderr)
        assert stored(db_url) == [(row, 1) for row in sorted(want)]


def test_the_whole_corpus_in_one_run_stores_only_the_good_pages(
    env: dict[str, str], db_url: str, tmp_path: Path
) -> None:
    """As a user would run it: one `fxticker ingest DIR`; a hostile page never stops or spoils the rest."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    together = {name: case for name, case in MANIFEST.items() if not case.get("alone")}
    for name in together:
        shutil.copy(CORPUS / name, folder / name)
    for case in together.values():
        assert case.get("ingest_date", DIRECTORY_DATE) == DIRECTORY_DATE, "one --date serves all"
    result = subprocess.run(
        [sys.executable, "-m", "fxticker", "ingest", "--date", DIRECTORY_DATE, str(folder)],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    rejected = {name: case["reject"] for name, case in together.items() if "reject" in case}
    reasons = {}
    for line in result.stderr.splitlines()[:-1]:
        assert line.startswith(f"rejected {folder}/"), line
        name, reason = line.removeprefix(f"rejected {folder}/").split(": ", 1)
        assert name not in reasons, f"{name} reported twice"
        reasons[name] = reason
    assert reasons.keys() == rejected.keys()
    for name, reason in reasons.items():
        assert rejected[name] in reason, name
    want = set().union(*(expected_rows(case) for case in together.values()))
    rows = stored(db_url)
    assert {row for row, _ in rows} == want
    assert len(rows) == len(want), "no row stored twice"
    assert result.stderr.splitlines()[-1] == (
        f"{len(together)} page(s) read, {len(want)} observation(s) new, "
        f"{sum(len(c.get('rows', [])) for c in together.values()) - len(want)} duplicate(s), "
        f"{len(rejected)} page(s) rejected"
    )
    accepted = len(MANIFEST) - sum("reject" in case for case in MANIFEST.values())
    record_figure(
        "hostile-pages", "hostile pages tried", len(MANIFEST),
        f"tests/hostile/: {len(MANIFEST) - accepted} rejected with a one-line reason and nothing stored, "
        f"{accepted} stored exactly as expected; 0 wrong rows, 0 tracebacks (test_hostile.py)",
    )


def _big_article(megabytes: int) -> str:
    paragraph = "Caravans crossed the pass at dawn; the market opened late and closed early. " * 14 + "\n\n"
    return paragraph * (megabytes * 1024 * 1024 // len(paragraph))


HUGE_DATE = "18 November 2025"
# Written at test time, too big to commit: name -> (page, the rows stored or a piece of the refusal).
HUGE: dict[str, tuple[Callable[[], str], set[tuple[str, str, str, str]] | str]] = {
    "article-18mb.txt": (lambda: text_page(date=HUGE_DATE, body=_big_article(18)), FIVE_ROWS),
    "article-18mb.html": (lambda: html_page(date=HUGE_DATE, body=_big_article(18)), FIVE_ROWS),
    "one-line-8mb.txt": (lambda: text_page(date=HUGE_DATE, body="word " * 1_600_000), FIVE_ROWS),
    "over-default-limit-40mb.txt": (lambda: text_page(date=HUGE_DATE, body=_big_article(40)),
                                    "bytes, over the 33,554,432-byte limit"),
}


@pytest.mark.timing
@pytest.mark.parametrize("name", sorted(HUGE))
def test_huge_pages_are_read_in_seconds_or_refused_by_size(
    name: str, env: dict[str, str], db_url: str, tmp_path: Path
) -> None:
    page, outcome = HUGE[name]
    source = tmp_path / name
    source.write_text(page(), "utf-8")
    started = time.monotonic()
    result = ingest([str(source)])
    seconds = time.monotonic() - started
    if isinstance(outcome, str):
        assert outcome in rejection(result, source)
        assert stored(db_url) == []
    else:
        assert result.exit_code == 0, result.stderr
        assert stored(db_url) == [(("2025-11-18", *row), 1) for row in sorted(outcome)]
    # A guard against super-linear parsing, not a speed test: a linear read of these pages takes 0.1-2 s
    # (docs/benchmarks.md), a quadratic one of 8-40 MB (10^13 steps and more) takes hours. 60 s is 30
    # times the slowest linear read seen, so a busy machine does not reach it and a super-linear parser
    # always does.
    assert seconds < 60, f"{name}: {seconds:.1f} s"
    record_figure(f"hostile-huge-{name.replace('.', '-')}", f"huge page {name}",
                  f"{source.stat().st_size / 1e6:.0f} MB in {seconds:.1f} s",
                  ("refused by its size, nothing read" if isinstance(outcome, str)
                   else "ticker read whole, 5 rows stored") + " (test_hostile.py)")


def test_the_corpus_has_an_outcome_for_every_page() -> None:
    """At least 30 pages; every accepted one stores rows, every rejected one names a reason."""
    assert len(MANIFEST) >= 30
    for name, case in MANIFEST.items():
        assert (CORPUS / name).is_file(), name
        assert ("reject" in case) != ("rows" in case), name
        if "rows" in case:
            dt.date.fromisoformat(case["date"])
    listed = {p.name for p in CORPUS.iterdir()} - {"expected.toml"}
    assert listed == set(MANIFEST), "every file in tests/hostile/ has an expected outcome"
