"""Unknown query parameters are refused on API routes; declared ones still work."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from paymux.app.factory import create_app
from paymux_test_support import auth, make_settings


@pytest.fixture
def client(sqlite_url: str) -> Iterator[TestClient]:
    settings = make_settings(sqlite_url, settings={"embedded_worker": "never"})
    with TestClient(create_app(settings), headers=auth()) as test_client:
        yield test_client


def test_an_unknown_query_parameter_is_a_validation_problem(client: TestClient) -> None:
    refused = client.get("/v1/dead-letters", params={"limt": "5", "zzz": "1"})
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["type"].endswith("/validation-error")
    assert problem["errors"] == [
        {"pointer": "/query/limt", "detail": "unknown query parameter"},
        {"pointer": "/query/zzz", "detail": "unknown query parameter"},
    ]


def test_declared_query_parameters_are_accepted(client: TestClient) -> None:
    assert client.get("/v1/dead-letters", params={"limit": "5"}).status_code == 200
    explained = client.get(
        "/v1/routing/explain", params={"country": "DE", "currency": "EUR", "method": "card"}
    )
    assert explained.status_code == 200, explained.text


def test_routes_without_an_api_key_are_not_affected(client: TestClient) -> None:
    assert client.get("/healthz", params={"probe": "1"}).status_code == 200


def test_a_caller_without_a_valid_key_is_refused_before_its_query_is_looked_at(
    client: TestClient,
) -> None:
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer not-a-key"}):
        refused = client.get("/v1/dead-letters", params={"limt": "5"}, headers=headers)
        assert refused.status_code == 401, refused.text
        assert refused.json()["type"].endswith("/unauthorized")
        assert "limt" not in refused.text
