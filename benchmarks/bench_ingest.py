"""Benchmark `ingest`: `fxticker ingest DIR` of the corpus into the hypertable, against psql's \\copy."""

from __future__ import annotations

import re
import subprocess
import sys

import psycopg

from benchmarks import corpus, scale
from benchmarks.harness import Context, Row, median, rounds

NOTES = """\
**Method.** The same corpus as `parse` (`benchmarks/corpus.py`), as files in a directory. The subject is
`fxticker ingest --date <last day> DIR` run as a subprocess, as a user runs it: Python start-up, reading
and hashing every file, parsing, and one transaction per page with its upsert into the `observation`
hypertable (`--date` dates the 6% of pages without a date line; they are captures of the last day). The
floor is psql's `\\copy observation(...) FROM file (FORMAT csv)` of exactly the rows that ingest leaves
(every column, provenance included), written once beforehand: one process, one statement, one
transaction, no parsing and no conflict checks. Each run, subject or floor, gets a new migrated database
made before its clock starts, and the two alternate. After the runs every database must hold as many
rows as the corpus predicts, the first of each kind must hold exactly the predicted rows column by
column, and every ingest's summary must report every page read, none rejected, and the predicted new
and duplicate counts; anything else raises.

**The gap (target 3x; 16-23x and 9-33x in two full runs).** The floor loads finished rows in one
statement; the subject has to make them, and the target is out of reach for the parsing alone. Split of
one ingest of the 10,000-page corpus, timed in-process (24 November 2026, same machine; the \\copy of its
15,472 rows took 0.50 s, 0.05 s of it psql's start-up): Python and imports 0.46 s, reading and hashing
the files 0.7 s, parsing 3.6 s (already 7x the floor; see `parse`), and the database 9.0 s, 0.90 ms a
page. Of a page's database time (measured per statement over 3,000 pages): BEGIN 91 µs, the upsert 481 µs
and COMMIT 134 µs, against 76 µs for a bare `SELECT 1` round trip; `EXPLAIN ANALYZE` of the upsert shows
0.28 ms of server time, 0.19 ms of it in TimescaleDB's chunk dispatch, which every statement into a
hypertable pays. So the floor of this design (a transaction per page, each an `ON CONFLICT` upsert that
reports new and duplicate quotes) is about 0.7 ms a page of database time plus the parse. The spread is
the machine: two cores shared with other jobs (load average 4 to 9 during these runs), which slow a
10,000-statement Python client far more than one \\copy.

**What was done.** Before, `save_quotes` ran one upsert per quote (5 statements and round trips a page)
and every page's COMMIT waited for its WAL to reach the disk, which on this shared disk ranged from under
0.1 ms to several ms a commit. Now a page is one `INSERT ... SELECT FROM unnest(...) ON CONFLICT`
statement with `RETURNING` for the counts, and the ingest session runs with `synchronous_commit = off`
and ends with one synchronous commit, which flushes the WAL of every page before the summary is printed
(a page is still one transaction, whole or absent; only a server crash during the run could lose its
latest pages, which a re-run stores again). The same first/last-seen and new/duplicate semantics
(`tests/test_ingest.py`, `tests/test_scrape.py`). Measured A/B with the subprocess on fresh databases:
10,000 pages, the original parser and store against today's, 2 runs each: 19.6 and 34.5 s before, 11.5
and 10.5 s after; 2,000 pages, the store change alone, 6 runs: median 4.49 s before, 2.79 s after, and
far steadier. A pipeline across pages was tried and removed: psycopg syncs at every transaction's end, so
it saved no round trip. Left as is: BEGIN and COMMIT cost two round trips a page (about 0.2 ms) that
running the single upsert statement as its own autocommit transaction would save, at the price of a
page's atomicity resting on `save_quotes` staying one statement.
Since the API's response cache (`sql/004_data_version.sql`), a statement-level trigger bumps
`data_version` with every page's upsert: about 0.04 ms more a page (0.538 against 0.578 ms, the
trigger dropped and re-created between alternating rounds).
"""

_SUMMARY = re.compile(r"(\d+) page\(s\) read, (\d+) observation\(s\) new, (\d+) duplicate\(s\), "
                      r"(\d+) page\(s\) rejected")
_ROWS = f"""SELECT {', '.join(corpus.COPY_COLUMNS)} FROM observation
            ORDER BY rate_date, currency, first_seen"""


def _sizes(ctx: Context) -> tuple[int, ...]:
    return (100, 300) if ctx.quick else (1_000, 10_000)


def _count(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM observation").fetchone()
    return int(row[0]) if row else 0


def _check_contents(url: str, pages: corpus.Corpus) -> None:
    with psycopg.connect(url) as conn:
        stored = conn.execute(_ROWS.replace("rate, change_pct", "rate::text, change_pct::text")).fetchall()
    want = [(r.rate_date, r.currency, r.rate, r.change_pct, r.direction, r.first_seen, r.last_seen,
             r.sightings, r.first_source, r.last_source, r.first_hash, r.last_hash) for r in pages.rows]
    if stored != want:
        wrong = next(i for i, (a, b) in enumerate(zip(stored, want, strict=False)) if a != b) \
            if len(stored) == len(want) else "count"
        raise RuntimeError(f"ingest stored other rows than the corpus predicts (first difference: {wrong})")


def run(ctx: Context) -> list[Row]:
    rows = []
    for pages in _sizes(ctx):
        rows += _measure(ctx, corpus.cached(ctx.work / f"corpus-{pages}", pages), f"{pages:,} pages",
                         ctx.runs, warmup=1)
    # Ten years at the scraper's cadence take minutes an ingest: timed once, without a warm-up.
    archive = scale.pages(ctx)
    rows += _measure(ctx, archive, f"{scale.label(ctx)}: {len(archive.paths):,} pages", 1, warmup=0)
    return rows


def _measure(ctx: Context, pages: corpus.Corpus, label: str, runs: int, *, warmup: int) -> list[Row]:
    copy_file = corpus.write_copy_file(pages.rows, ctx.work / f"observations-{len(pages.paths)}.csv")
    command = f"\\copy observation({', '.join(corpus.COPY_COLUMNS)}) FROM '{copy_file}' WITH (FORMAT csv)"
    ingest = ("ingest", "--date", pages.fallback_date.isoformat(), str(pages.directory))
    parse_only = [sys.executable, "-m", "benchmarks.parse_only", str(pages.directory),
                  pages.fallback_date.isoformat()]
    # Fresh databases made before the clock starts: creating and migrating one is not ingesting.
    subject_dbs = [ctx.database("ingest") for _ in range(runs + warmup)]
    floor_dbs = [ctx.database("copy") for _ in range(runs + warmup)]
    subject_queue, floor_queue = iter(subject_dbs), iter(floor_dbs)
    summaries: list[str] = []
    parsed: list[str] = []

    def subject() -> None:
        summaries.append(ctx.fxticker(next(subject_queue), *ingest).stderr)

    def parse() -> None:
        parsed.append(subprocess.run(parse_only, env=ctx.env(subject_dbs[0]), capture_output=True, text=True,
                                     check=True).stdout)

    def floor() -> None:
        ctx.psql(next(floor_queue), command)

    subject_times, parse_times, floor_times = rounds([subject, parse, floor], runs, warmup=warmup)
    _verify(pages, subject_dbs, floor_dbs, summaries, parsed)
    if pages is scale.pages(ctx):
        scale.keep_database(ctx, subject_dbs[0])
    value, parse_value, floor_value = median(subject_times), median(parse_times), median(floor_times)
    count = len(pages.paths)
    size = f"{label}, {pages.new:,} rows"
    return [
        Row(
            bench="ingest", size=size, subject="fxticker ingest DIR", value=value,
            floor_name="psql \\copy of the same rows", floor=floor_value,
            extra=(f"{count / value:,.0f} pages/s, {pages.new / value:,.0f} rows/s "
                   f"(floor {pages.new / floor_value:,.0f} rows/s); {pages.days:,} days in "
                   f"{_chunks(subject_dbs[0])} chunks, {pages.duplicates:,} duplicate quotes"),
        ),
        Row(
            bench="ingest", size=size, subject="ingest beyond its parse", value=value - parse_value,
            floor_name="psql \\copy of the same rows", floor=floor_value, target=3,
            extra=(f"the whole ingest {value:.3f} s less its read-and-parse alone {parse_value:.3f} s "
                   f"(benchmarks/parse_only.py, the same process pool); "
                   f"{(value - parse_value) / count * 1e6:,.0f} µs a page"),
        ),
    ]


def _verify(pages: corpus.Corpus, subject_dbs: list[str], floor_dbs: list[str], summaries: list[str],
            parsed: list[str]) -> None:
    """Raise unless every run stored exactly what the corpus says: a benchmark that stores nothing lies."""
    expected = (len(pages.paths), pages.new, pages.duplicates, 0)
    for output in parsed:
        if output.split() != [str(len(pages.paths)), str(pages.quotes)]:
            raise RuntimeError(f"the parse alone found {output!r} (pages, quotes), the corpus says "
                               f"{len(pages.paths)} {pages.quotes}")
    for stderr in summaries:
        match = _SUMMARY.search(stderr)
        got = tuple(int(n) for n in match.groups()) if match else None
        if got != expected:
            raise RuntimeError(f"fxticker ingest reported {got} (pages, new, duplicates, rejected), the "
                               f"corpus says {expected}: {stderr[-500:]!r}")
    for url in subject_dbs + floor_dbs:
        if (count := _count(url)) != pages.new:
            raise RuntimeError(f"{url} holds {count} observations after the run, the corpus says {pages.new}")
    _check_contents(subject_dbs[0], pages)
    _check_contents(floor_dbs[0], pages)


def _chunks(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM show_chunks('observation')").fetchone()
    return int(row[0]) if row else 0
