"""Every .csv answer is written by the one CSV writer, and JSON answers stream in constant memory."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from pathlib import Path

import psycopg
import pytest
from flask.testing import FlaskClient

from fxticker.collect.ingest import ingest_many
from fxticker.storage import observations
from tests.fix_api import CheckedClient
from tests.pages import text_page


@pytest.fixture
def formula_sources(env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "=cmd.txt").write_text(text_page(date="8 December 2025"))
    ingest_many(["=cmd.txt"], None)


def test_observations_csv_is_crlf_and_guarded(client: FlaskClient, formula_sources: None) -> None:
    body = client.get("/api/observations.csv?currency=KZT").get_data()
    assert body.count(b"\r\n") == 2 and body.count(b"\n") == 2
    row = next(csv.DictReader(io.StringIO(body.decode())))
    assert (row["source"], row["first_source"], row["change_pct"]) == ("'=cmd.txt", "'=cmd.txt", "-0")


def test_v2_rates_csv_writes_numbers_as_the_json_does(days_api: CheckedClient) -> None:
    query = "from=2025-12-17&to=2025-12-19"
    body = days_api.get(f"/v2/rates.csv?{query}").text
    assert body.endswith("\r\n") and "\n" not in body.replace("\r\n", "")
    rows = list(csv.DictReader(io.StringIO(body)))
    answer = days_api.json(f"/v2/rates?{query}")
    assert [r["rate"] for r in rows] == [json.dumps(r["rate"]) for r in answer]
    assert len(rows) == len(answer) > 0


def test_observations_json_is_what_jsonify_writes(client: FlaskClient, formula_sources: None) -> None:
    response = client.get("/api/observations")
    # Sent whole (one batch): with a length and a validator.
    assert response.headers["Content-Length"] and response.headers["ETag"]
    with client.application.app_context():
        from flask import jsonify

        assert response.get_data() == jsonify(json.loads(response.get_data())).get_data()


@pytest.mark.slow
def test_observations_stream_in_constant_memory(client: FlaskClient, conn: psycopg.Connection) -> None:
    conn.execute("""
        INSERT INTO observation (rate_date, currency, rate, change_pct, direction, first_seen, last_seen,
                                 first_source, last_source, first_hash, last_hash)
        SELECT d::date, c.code, c.base, 0.1, 'up', d, d, 's', 's', 'h', 'h'
        FROM generate_series('2010-01-01'::timestamptz, '2019-12-31', interval '1 day') AS d,
             (VALUES ('KGS', 0.01144), ('KZT', 0.00193), ('TJS', 0.10851), ('UZS', 0.00008),
                     ('TMT', 0.28490)) AS c(code, base)
    """)
    peaks, counts = {}, {}
    for to in ("2014-12-31", "2019-12-31"):
        tracemalloc.start()
        try:
            response = client.get(f"/api/observations?to={to}", buffered=False)
            assert "Content-Length" not in response.headers and "ETag" not in response.headers
            rows, first, last = 0, b"", b""
            for chunk in response.response:
                rows += chunk.count(b'"date":')
                first, last = first or chunk, chunk
            response.close()
            peaks[to] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        counts[to] = rows
        assert first.startswith(b'[{"change_pct":"0.1"') and b'"date":"2010-01-01"' in first[:400]
        assert last.endswith(b"}]\n") and f'"date":"{to}"'.encode() in last[-800:]
    assert counts == {"2014-12-31": 5 * 1826, "2019-12-31": 5 * 3652}
    # Twice the rows, the same memory: both answers span more batches of BATCH_ROWS than are held at
    # once (two read before the answer starts, one ahead for the closing bracket, one being fetched).
    assert counts["2014-12-31"] > 4 * observations.BATCH_ROWS
    assert peaks["2019-12-31"] < 1.1 * peaks["2014-12-31"], peaks
