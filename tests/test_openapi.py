"""The OpenAPI document: a valid 3.1 description of every API route, and schemathesis against the live app."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from jsonschema.exceptions import ValidationError
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.serving import make_server

from fxticker.web import pool as web_db
from tests.fix_api import CheckedClient, OpenApiChecker, ingest_sample_days
from tests.fix_db import create_app_for

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance]
# Per operation and generation mode (valid and invalid input): enough to cover parameter combinations,
# few enough to keep the run well under a minute.
EXAMPLES = 8


def test_document_is_valid_openapi_3_1(api: CheckedClient) -> None:
    document = api.json("/openapi.json")
    validate(document, cls=OpenAPIV31SpecValidator)
    assert document["openapi"] == "3.1.0"


def test_every_api_route_is_documented(app: Flask, api: CheckedClient) -> None:
    document = api.json("/openapi.json")
    routes = {
        rule.rule.replace("<", "{").replace(">", "}")
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(("/v1/", "/v2/", "/api/", "/openapi.json"))
    }
    assert routes == set(document["paths"])
    for item in document["paths"].values():
        assert set(item["get"]["responses"]) == {"200", "304", "404", "422", "503"}


def test_the_checker_rejects_what_the_document_does_not_allow(api: CheckedClient) -> None:
    """The response validation used by every API test is live: a wrong body fails it."""
    checker = OpenApiChecker(api.json("/openapi.json"))
    response = api.client.get("/openapi.json")
    response.set_data(b'[{"date": "2025-12-19", "base": "USD", "quote": "KZT", "rate": "518.13"}]')
    with pytest.raises(ValidationError):
        checker.check("GET", "/v2/rates", response)
    response.set_data(b'[{"date": "2025-19-99", "base": "USD", "quote": "KZT", "rate": 518.13}]')
    with pytest.raises(ValidationError, match="is not a 'date'"):
        checker.check("GET", "/v2/rates", response)
    response.set_data(b"[]")
    del response.headers["ETag"]
    with pytest.raises(AssertionError, match="header ETag missing"):
        checker.check("GET", "/v2/rates", response)


@pytest.fixture
def live_url(env: dict[str, str], db_url: str, tmp_path: Path) -> Iterator[str]:
    """The app on a real HTTP server in a thread on 127.0.0.1, over a database with ingested pages."""
    ingest_sample_days(tmp_path)
    app = create_app_for(db_url)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        web_db.close(app)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_schemathesis_finds_no_server_error_and_no_schema_violation(live_url: str) -> None:
    schema = schemathesis.openapi.from_url(f"{live_url}/openapi.json", timeout=10)
    operations = [result.ok() for result in schema.get_all_operations()]
    # schemathesis leaves out the operation that serves the schema it was loaded from.
    documented = {f"GET {path}" for path in schema.raw_schema["paths"]} - {"GET /openapi.json"}
    assert {op.label for op in operations} == documented
    statuses: dict[int, int] = {}
    for op in operations:
        modes = [schemathesis.GenerationMode.POSITIVE]
        if list(op.iter_parameters()):  # invalid input needs a parameter to be invalid in
            modes.append(schemathesis.GenerationMode.NEGATIVE)
        for mode in modes:

            @given(case=op.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            def run(case: Any) -> None:
                response = case.call_and_validate(base_url=live_url, checks=CHECKS, timeout=10)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

            run()
    # Both answers and rejections were exercised, and nothing else than documented outcomes came back.
    assert statuses.get(200, 0) > 0 and statuses.get(422, 0) > 0
    assert set(statuses) <= {200, 304, 404, 422}, statuses
