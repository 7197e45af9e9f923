"""GET /export.csv: the stored rates as a CSV download, streamed row by row from a server-side cursor."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack

import psycopg
from flask import Blueprint
from werkzeug.wrappers import Response

from fxticker import export, rates, vocab
from fxticker.web import params
from fxticker.web.db import read_connection
from fxticker.web.errors import BadInput, Unavailable

bp = Blueprint("export", __name__)
log = logging.getLogger(__name__)

_PARAMS = {"currencies", "from", "to", "resolution", "direction", "bom"}


def _query() -> tuple[export.ExportQuery, bool]:
    # The dashboard's form sends currencies once per checkbox.
    args = params.query(_PARAMS, lists=("currencies",))
    bom = params.parse_choice("bom", args.get("bom", "0"), ("0", "1"))
    try:
        query = export.make_query(currencies=args.get("currencies"), start=args.get("from"),
                                  end=args.get("to"), resolution=args.get("resolution"),
                                  direction=args.get("direction"))
    except vocab.BadValue as exc:
        raise BadInput(str(exc)) from None
    return query, bom == "1"


def _resumed(first: str, rest: Iterator[str]) -> Iterator[str]:
    """The first chunk, then the rest; unlike itertools.chain((first,), rest) it keeps no hold on the
    first chunk while the rest streams."""
    chunk, first = first, ""
    yield chunk
    del chunk
    yield from rest


@bp.get("/export.csv")
def export_csv() -> Response:
    query, bom = _query()
    with ExitStack() as stack:
        conn = stack.enter_context(read_connection())
        if query.currencies:
            params.check_known(query.currencies, rates.stored_currencies(conn), "currencies")
        # Read connections are in autocommit; the server-side cursor needs a (read-only) transaction.
        stack.enter_context(conn.transaction())
        chunks = export.csv_chunks(conn, query, bom=bom)
        # The query runs, and its first batch arrives, before the response starts: inside
        # read_connection, so a database that is down or went away (a pooled connection broken by a
        # restart) is a clean 503, not a failure in the streamed body after the status is sent.
        # A later failure can only cut the download short, which the client sees as incomplete.
        first = next(chunks)
        # The connection goes back to the pool when the response is closed, after the last row or a
        # disconnect.
        resources = stack.pop_all()
    response = Response(
        _resumed(first, chunks),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{query.filename()}"'},
    )
    response.call_on_close(lambda: _release(resources))
    return response


def _release(resources: ExitStack) -> None:
    """End the export's transaction and return its connection, once the response is over.

    By then every row was sent (or the download already failed): a database that went away meanwhile
    costs nothing but this connection, which the pool discards.
    """
    try:
        resources.close()
    except (Unavailable, psycopg.Error) as exc:
        log.info("export finished, but its connection did not end cleanly: %s", exc)
