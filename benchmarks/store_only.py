"""The storing half of `fxticker ingest DIR`, alone: what ingest spends beyond its parse, timed directly.

    python -m benchmarks.store_only DIR YYYY-MM-DD   # prints the seconds storing took, then pages, new

The pages are read and parsed first, untimed (the ingest's own read_source and process pool), and each
batch is pickled as a worker hands it to the ingest's process. The clock then runs over what that
process does for the whole run: connect, check the schema, and per batch unpickle the worker's answer
and store it (ingest.store_batch, one transaction per batch), as `fxticker ingest` does.
"""

from __future__ import annotations

import datetime as dt
import pickle
import sys
import time
from functools import partial

import psycopg

from fxticker import settings
from fxticker.collect import ingest, parsing
from fxticker.storage import cluster, observations


def main(directory: str, fallback: str) -> None:
    conf = settings.load()
    items = list(parsing.expand([directory]))
    read = partial(ingest.read_source, fallback_date=dt.date.fromisoformat(fallback), tz=conf.timezone,
                   max_bytes=conf.max_page_bytes)
    handed = [pickle.dumps(batch) for batch in parsing.parsed_batches(items, read, conf.timezone)]
    started = time.perf_counter()
    pages = new = 0
    with psycopg.connect(cluster.database_url(conf), connect_timeout=10) as conn:
        observations.migrate(conn)
        conn.autocommit = True
        for answer in handed:
            for outcome in ingest.store_batch(conn, pickle.loads(answer)):  # noqa: S301 (made above)
                pages += 1
                new += outcome.new
    print(f"{time.perf_counter() - started:.6f} {pages} {new}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
