"""The data version (sql/004, sql/010, sql/011): one row that every change to the stored rates moves, in
the changing transaction, and announces at its commit. The web tier keys its answers by it."""

from __future__ import annotations

import psycopg


def current(conn: psycopg.Connection) -> int:
    """The committed data version as conn sees it now."""
    row = conn.execute("SELECT version FROM data_version").fetchone()
    if row is None:
        raise psycopg.DataError("table data_version has no row")
    return int(row[0])
