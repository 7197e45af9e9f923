"""Answers written while their rows come from a server-side cursor: memory stays flat for any size, and an
answer that fits in its first batches is sent whole (with a length and an ETag) instead."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import psycopg
from werkzeug.wrappers import Response

from fxticker.web.errors import Unavailable
from fxticker.web.pool import read_connection

log = logging.getLogger(__name__)

# Chunks read before the response starts: an answer of one chunk (one batch of rows) is sent whole.
_HEAD = 2


def respond(produce: Callable[[psycopg.Connection], Iterator[str]], *, content_type: str,
            headers: dict[str, str] | None = None) -> Response:
    """The chunks produce(conn) yields, in a read-only transaction on a connection of this answer.

    The query runs, and its first batches arrive, before the response starts: inside read_connection,
    so a database that is down or went away is a clean 503, not a failure in a body whose status is
    sent. A later failure can only cut a streamed answer short, which the client sees as incomplete.
    Not for a view under web.cache.cached: that connection goes back to the pool when the view returns.
    """
    with ExitStack() as stack:
        conn = stack.enter_context(read_connection())
        # Read connections are in autocommit; a server-side cursor needs a (read-only) transaction.
        stack.enter_context(conn.transaction())
        chunks = produce(conn)
        head = list(itertools.islice(chunks, _HEAD))
        if len(head) < _HEAD:
            return Response("".join(head), content_type=content_type, headers=headers)
        # The connection goes back to the pool when the response is closed, after the last row or a
        # disconnect.
        resources = stack.pop_all()
    response = Response(_resumed(head, chunks), content_type=content_type, headers=headers)
    # Nothing may read the whole body into memory on its way out (werkzeug would, to compute a length).
    response.implicit_sequence_conversion = False
    response.call_on_close(lambda: _release(resources))
    return response


def _resumed(head: list[str], rest: Iterator[str]) -> Iterator[str]:
    """The first chunks, then the rest, keeping no hold on a chunk once it is sent."""
    head.reverse()
    while head:
        yield head.pop()
    yield from rest


def _release(resources: ExitStack) -> None:
    """End the answer's transaction and return its connection, once the response is over.

    By then every row was sent (or the download already failed): a database that went away meanwhile
    costs nothing but this connection, which the pool discards.
    """
    try:
        resources.close()
    except (Unavailable, psycopg.Error) as exc:
        log.info("answer finished, but its connection did not end cleanly: %s", exc)
