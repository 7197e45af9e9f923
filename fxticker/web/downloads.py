"""GET /export.csv: the stored rates as a CSV download, streamed row by row from a server-side cursor."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
from flask import Blueprint
from werkzeug.wrappers import Response

from fxticker import vocab
from fxticker.export import csvfile, tables
from fxticker.storage import daily
from fxticker.web import params, stream
from fxticker.web.errors import BadInput

bp = Blueprint("export", __name__)

_PARAMS = {"currencies", "from", "to", "resolution", "direction", "bom"}


def _query() -> tuple[tables.ExportQuery, bool]:
    # The dashboard's form sends currencies once per checkbox.
    args = params.query(_PARAMS, lists=("currencies",))
    bom = params.parse_choice("bom", args.get("bom", "0"), ("0", "1"))
    try:
        query = tables.make_query(currencies=args.get("currencies"), start=args.get("from"),
                                  end=args.get("to"), resolution=args.get("resolution"),
                                  direction=args.get("direction"))
    except vocab.BadValue as exc:
        raise BadInput(str(exc)) from None
    return query, bom == "1"


@bp.get("/export.csv")
def export_csv() -> Response:
    query, bom = _query()

    def produce(conn: psycopg.Connection) -> Iterator[str]:
        if query.currencies:
            params.check_known(query.currencies, daily.stored_currencies(conn), "currencies")
        return tables.csv_chunks(conn, query, bom=bom)

    return stream.respond(
        produce,
        content_type=csvfile.CONTENT_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{query.filename()}"'},
    )
