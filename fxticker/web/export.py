"""GET /export.csv: the stored rates as a CSV download, streamed row by row from a server-side cursor."""

from __future__ import annotations

from contextlib import ExitStack

from flask import Blueprint, request
from werkzeug.wrappers import Response

from fxticker import export
from fxticker.web import read_connection
from fxticker.web.errors import BadInput

bp = Blueprint("export", __name__)

_PARAMS = {"currencies", "from", "to", "resolution", "direction", "bom"}


def _query() -> tuple[export.ExportQuery, bool]:
    unknown = sorted(set(request.args) - _PARAMS)
    if unknown:
        raise BadInput(f"unknown parameter: {', '.join(unknown)[:100]}")
    bom = request.args.get("bom", "0")
    if bom not in ("0", "1"):
        raise BadInput("'bom' must be 0 or 1")
    try:
        query = export.make_query(
            currencies=",".join(request.args.getlist("currencies")),
            start=request.args.get("from"),
            end=request.args.get("to"),
            resolution=request.args.get("resolution"),
            direction=request.args.get("direction"),
        )
    except export.ExportError as exc:
        raise BadInput(str(exc)) from None
    return query, bom == "1"


@bp.get("/export.csv")
def export_csv() -> Response:
    query, bom = _query()
    # The connection is taken before the response starts, so an unreachable database is still a clean
    # 503; it goes back to the pool when the response is closed, after the last row or a disconnect.
    resources = ExitStack()
    conn = resources.enter_context(read_connection())
    response = Response(
        export.csv_chunks(conn, query, bom=bom),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{query.filename()}"'},
    )
    response.call_on_close(resources.close)
    return response
