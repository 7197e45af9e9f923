"""API test fixtures: the app on the test database, pages ingested through the real path, and a test
client that checks every response against the app's own /openapi.json."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from werkzeug.test import TestResponse

from fxticker.collect.ingest import ingest_many
from fxticker.web import pool as web_db
from tests.fix_db import create_app_for
from tests.pages import FIVE, text_page

DOC_URI = "urn:fxticker:openapi"
Quotes = list[tuple[str, str, str]]

# Two days of quotes, the second revised later the same day (KZT and TJS change), as the site does.
DAY1 = [("KGS", "0.01143", "-0.09"), ("KZT", "0.00192", "0.52"), ("TJS", "0.10800", "0"),
        ("UZS", "0.00008", "0"), ("TMT", "0.28490", "0")]
DAY2_EARLY = FIVE
DAY2_LATE = [("KGS", "0.01144", "0"), ("KZT", "0.00194", "0.52"), ("TJS", "0.10900", "0.46"),
             ("UZS", "0.00008", "0"), ("TMT", "0.28490", "0")]


def ingest_pages(directory: Path, pages: list[tuple[str, Quotes, dt.datetime]]) -> None:
    """Write one text page per (date line, quotes, capture time) and ingest them like the CLI does."""
    paths = []
    for i, (date_line, quotes, seen) in enumerate(pages):
        path = directory / f"page{i}.txt"
        path.write_text(text_page(quotes, date=date_line))
        os.utime(path, (seen.timestamp(), seen.timestamp()))  # a file's capture time is its mtime
        paths.append(str(path))
    summary = ingest_many(paths, None)
    # Every page stored, none rejected, each quote either new or a duplicate of one stored before.
    assert (summary.pages, summary.rejected, summary.new + summary.duplicate) == (
        len(pages), [], sum(len(quotes) for _, quotes, _ in pages)), summary.line()


def ingest_sample_days(directory: Path) -> None:
    """17 and 19 December 2025 (19th revised in the evening); nothing on the 18th."""
    base = dt.datetime(2025, 12, 17, 6, tzinfo=dt.UTC)
    ingest_pages(directory, [
        ("17 December 2025", DAY1, base),
        ("19 December 2025", DAY2_EARLY, base + dt.timedelta(days=2)),
        ("19 December 2025", DAY2_LATE, base + dt.timedelta(days=2, hours=8)),
    ])


class OpenApiChecker:
    """Checks a response against the operation the document gives for its method and path."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.registry: Registry[Any] = Registry().with_resource(
            DOC_URI, Resource.from_contents(document, default_specification=DRAFT202012)
        )
        templated = []
        for path in document["paths"]:
            pattern = re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(path))
            templated.append((path.count("{"), re.compile(pattern), path))
        # Concrete paths win over templated ones, as in the app's routing.
        self.paths = sorted(templated, key=lambda t: t[0])

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            resolved: dict[str, Any] = self.registry.resolver(DOC_URI).lookup(node["$ref"]).contents
            node = resolved
        return node

    def operation(self, path: str) -> dict[str, Any] | None:
        for _, pattern, template in self.paths:
            if pattern.fullmatch(path):
                item: dict[str, Any] = self.document["paths"][template]
                return item
        return None

    def check(self, method: str, path: str, response: TestResponse) -> None:
        item = self.operation(path)
        status = str(response.status_code)
        if item is None:
            assert status == "404", f"{path} is not in the OpenAPI document but answered {status}"
            spec = self.document["components"]["responses"]["NotFound"]
        elif method.lower() not in item:
            assert status == "405", f"{method} {path} is not documented but answered {status}"
            spec = self.document["components"]["responses"]["MethodNotAllowed"]
        else:
            responses = item[method.lower()]["responses"]
            assert status in responses, f"{method} {path} answered {status}, not documented"
            spec = self._resolve(responses[status])
        for name, header in spec.get("headers", {}).items():
            header = self._resolve(header)
            if header.get("required"):
                assert name in response.headers, f"{method} {path}: header {name} missing"
        if "content" not in spec:
            assert response.data == b"", f"{method} {path} {status} should have no body"
            return
        media = response.mimetype
        assert media in spec["content"], f"{method} {path} {status}: {media} not documented"
        schema = spec["content"][media]["schema"]
        instance = json.loads(response.data) if media == "application/json" else response.text
        Draft202012Validator(
            _rebase(schema), registry=self.registry, format_checker=Draft202012Validator.FORMAT_CHECKER
        ).validate(instance)


def _rebase(schema: dict[str, Any]) -> dict[str, Any]:
    """Make the document's local refs (#/components/...) resolve against the document."""
    text = json.dumps(schema).replace('"$ref": "#/', f'"$ref": "{DOC_URI}#/')
    result: dict[str, Any] = json.loads(text)
    return result


class CheckedClient:
    """A Flask test client whose every response is validated against /openapi.json."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        document = client.get("/openapi.json").json
        assert isinstance(document, dict)
        self.checker = OpenApiChecker(document)

    def open(self, method: str, url: str, **kwargs: Any) -> TestResponse:
        response = self.client.open(url, method=method, **kwargs)
        if method != "OPTIONS":
            self.checker.check(method, url.split("?")[0], response)
        return response

    def get(self, url: str, **kwargs: Any) -> TestResponse:
        return self.open("GET", url, **kwargs)

    def json(self, url: str, status: int = 200) -> Any:
        response = self.get(url)
        assert response.status_code == status, (url, response.status_code, response.data[:300])
        return response.json


@pytest.fixture
def api(app: Flask) -> CheckedClient:
    """A checked client on the app reading this test's database (tests.fix_db's `app`)."""
    return CheckedClient(app.test_client())


@pytest.fixture
def sample_days(env: dict[str, str], tmp_path: Path) -> None:
    ingest_sample_days(tmp_path)


@pytest.fixture(scope="module")
def days_api(module_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CheckedClient]:
    """A client on one database with the sample days, shared by a module's read-only tests (speed)."""
    url = module_db_url
    directory = tmp_path_factory.mktemp("days")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", url)
        patch.delenv("DATABASE_READ_URL", raising=False)
        patch.setenv("FXTICKER_DATA_DIR", str(directory / "unused-embedded"))
        ingest_sample_days(directory)
    app = create_app_for(url)
    yield CheckedClient(app.test_client())
    web_db.close(app)
