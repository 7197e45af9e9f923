"""The one parameter layer on every endpoint: any value answered without a server error or an echo of
unsafe text, the same rule for a date, a code or a repeated parameter everywhere."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fix_api import CheckedClient


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(["base", "quotes", "date", "from", "to", "group", "amount", "x"]),
       value=st.text(max_size=12))
def test_any_parameter_value_is_answered_without_a_server_error(
    days_api: CheckedClient, name: str, value: str
) -> None:
    response = days_api.get("/v2/rates", query_string={name: value})  # also checked against the document
    assert response.status_code in (200, 404, 422), (name, value, response.data[:200])
    assert response.is_json


UNSAFE = ["<script>", "\u202e", "\x00", "\n", "'", '"', "&"]
# What a message may carry of the input: between apostrophes, inputs.shown's plain characters (printable
# ASCII without quotes or markup; '&' among them, as URLs have it) and its escapes (\xNN).
QUOTED_PLAIN = re.compile(r"'[A-Za-z0-9_.,:;/?&!*+=@~%()#\\ -]*'(\.\.\.)?")


@settings(max_examples=40, deadline=None)
@given(path=st.sampled_from(["/export.csv", "/api/observations", "/api/observations.csv", "/v2/rates",
                             "/v1/latest"]),
       name=st.sampled_from(["currencies", "currency", "from", "to", "base", "quotes", "symbols", "x"])
       | st.text(max_size=8),
       value=st.text(max_size=12))
def test_any_parameter_is_answered_without_echoing_unsafe_text(
    days_api: CheckedClient, path: str, name: str, value: str
) -> None:
    # /export.csv is not in the OpenAPI document: asked without the document's check.
    client = days_api.client if path == "/export.csv" else days_api
    response = client.get(path, query_string={name: value})
    assert response.status_code in (200, 404, 422), (path, name, value, response.data[:200])
    if response.status_code != 200:
        # The message may name the parameter in quotes ('currencies'), and quotes input only as plain
        # text between apostrophes (any other character escaped as \\xNN): neither is an echo.
        message = QUOTED_PLAIN.sub("", response.json["message"].replace(f"'{name}'", ""))
        assert not any(bad in message for bad in UNSAFE if bad in name + value), message


@pytest.mark.parametrize("path", ["/export.csv", "/api/observations", "/api/observations.csv", "/v2/rates"])
def test_a_repeated_parameter_is_refused_everywhere(days_api: CheckedClient, path: str) -> None:
    response = days_api.client.get(f"{path}?from=2025-12-17&from=2025-12-18")
    assert (response.status_code, response.json) == (422, {"status": 422,
                                                           "message": "'from' is given more than once"})


@pytest.mark.parametrize("path", ["/export.csv", "/api/observations", "/v2/rates"])
def test_a_date_is_yyyy_mm_dd_everywhere(days_api: CheckedClient, path: str) -> None:
    response = days_api.client.get(f"{path}?from=20251217")
    assert (response.status_code, response.json) == (
        422, {"status": 422, "message": "'from' must be a date of the form YYYY-MM-DD"})


def test_a_code_in_a_path_is_exactly_three_letters(days_api: CheckedClient) -> None:
    assert days_api.get("/v2/currency/KZT").status_code == 200
    for path in ("/v2/currency/KZT%0a", "/v2/currency/KZT%20", "/v2/currency/%3Cscript%3E"):
        response = days_api.get(path)
        assert response.status_code == 404, path
        assert "<script>" not in response.json["message"] and "\n" not in response.json["message"]
    assert days_api.get("/v2/rate/KZT%0a/USD").status_code == 422


def test_an_unknown_or_empty_code_list_is_an_error_not_everything(days_api: CheckedClient) -> None:
    for path, name in (("/export.csv", "currencies"), ("/api/observations", "currency")):
        unknown = days_api.client.get(f"{path}?{name}=XXX")
        assert unknown.status_code == 422 and "unknown currency XXX" in unknown.json["message"]
        empty = days_api.client.get(f"{path}?{name}=")
        assert (empty.status_code, empty.json["message"]) == (422, f"'{name}' is empty; leave it out for the "
                                                                   "default")
