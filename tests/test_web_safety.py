"""Headers every answer carries whatever the client sends: nosniff, and no forged host."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

PATHS = ["/api/observations", "/api/observations.csv", "/export.csv", "/v1/latest", "/v2/currencies",
         "/openapi.json", "/livez", "/healthz", "/metrics", "/", "/no-such-page", "/api/observations?x=1"]


@pytest.mark.parametrize("path", PATHS)
def test_every_answer_forbids_content_sniffing(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff", response.status


@pytest.mark.parametrize("path", ["/v1//latest", "/api//observations", "/v2//currencies?base=EUR"])
def test_a_forged_host_never_reaches_a_redirect(client: FlaskClient, path: str) -> None:
    response = client.get(path, headers={"Host": "evil.example"})
    assert response.status_code == 308
    location = response.headers["Location"]
    assert "evil.example" not in location
    assert location == path.replace("//", "/")
    # Nor its body: werkzeug's page links the absolute URL it built from the Host header.
    assert "evil.example" not in response.get_data(as_text=True)
    assert "href" not in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/assets/plotly-%1B%5B31m%E2%80%AE.min.js", "/v2/currency/%1B%E2%80%AE",
                                  "/v1/%1B%5B31m%E2%80%AE"])
def test_a_404_never_echoes_control_or_bidi_characters(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    body = response.get_data(as_text=True)
    assert r"\x1b" in body or "plotly" not in path  # quoted back escaped, where it is quoted at all
    assert not any(c in body for c in "\x1b\u202e")
