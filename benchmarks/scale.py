"""The scale size: ten years of the ticker's five currencies as a scraper keeps them, a capture every 30
minutes (FXTICKER_INTERVAL's default), most of them the same quotes as the capture before.

The corpus is written once per run (benchmarks/corpus.py, write_cadence_corpus) and ingested with
`fxticker ingest`; the ingest benchmark times that, and the api and dashboard benchmarks read the
database it leaves (or make it themselves, untimed, when run without the ingest benchmark).
"""

from __future__ import annotations

from benchmarks import corpus
from benchmarks.harness import Context

EVERY_MINUTES = 30
DAYS, QUICK_DAYS = 3650, 7
_DATABASE = "scale-database"


def days(ctx: Context) -> int:
    return QUICK_DAYS if ctx.quick else DAYS


def label(ctx: Context) -> str:
    span = f"{days(ctx) // 365} years" if days(ctx) >= 365 else f"{days(ctx)} days"
    return f"{span} every {EVERY_MINUTES} min"


def pages(ctx: Context) -> corpus.Corpus:
    return corpus.cached_cadence(ctx.work / "cadence", days(ctx), EVERY_MINUTES)


def keep_database(ctx: Context, url: str) -> None:
    """Offer a database holding the whole scale corpus, ingested, to the benchmarks that read it."""
    ctx.shared.setdefault(_DATABASE, url)


def database(ctx: Context) -> str:
    """A database holding the scale corpus as `fxticker ingest` stored it."""
    if _DATABASE not in ctx.shared:
        archive = pages(ctx)
        url = ctx.database("scale")
        ctx.fxticker(url, "ingest", str(archive.directory))
        keep_database(ctx, url)
    return str(ctx.shared[_DATABASE])
