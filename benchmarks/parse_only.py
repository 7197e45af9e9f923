"""The read-and-parse half of `fxticker ingest DIR`, alone: what the ingest benchmark subtracts from a whole
ingest to get what storing costs beyond the parse.

    python -m benchmarks.parse_only DIR YYYY-MM-DD   # prints the pages parsed and the quotes found

It runs the ingest's own pipeline (parsing.parsed_batches over ingest.read_source: the same process pool,
file reads, hashing and parsing) and stores nothing.
"""

from __future__ import annotations

import datetime as dt
import sys
from functools import partial

from fxticker import settings
from fxticker.collect import ingest, parsing
from fxticker.storage import observations


def main(directory: str, fallback: str) -> None:
    conf = settings.load()
    items = list(parsing.expand([directory]))
    read = partial(ingest.read_source, fallback_date=dt.date.fromisoformat(fallback), tz=conf.timezone,
                   max_bytes=conf.max_page_bytes)
    pages = quotes = 0
    for batch in parsing.parsed_batches(items, read, conf.timezone):
        pages += len(batch)
        quotes += sum(len(p.quotes) for p in batch if isinstance(p, observations.PageQuotes))
    print(pages, quotes)


if __name__ == "__main__":
    main(*sys.argv[1:3])
