"""Bad input is a 4xx problem+json and writes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from paymux.app import create_app
from paymux_test_support import auth, count_rows, make_settings, payment_body

PROBLEM = "https://paymux.dev/problems/"


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(database_url))) as test_client:
        yield test_client


def _order(**fields: Any) -> dict[str, Any]:
    return {"seller_id": "s1", "amount": "10.00", "reference": "r1", **fields}


BAD_BODIES: list[tuple[str, dict[str, Any], str]] = [
    (
        "three decimals in USD",
        payment_body(currency="USD", orders=[_order(amount="10.001")]),
        "invalid-amount",
    ),
    (
        "decimals in JPY",
        payment_body(currency="JPY", orders=[_order(amount="1.5")]),
        "invalid-amount",
    ),
    ("a JSON number", payment_body(orders=[_order(amount=10.5)]), "invalid-amount"),
    ("a JSON integer", payment_body(orders=[_order(amount=10)]), "invalid-amount"),
    ("exponent notation", payment_body(orders=[_order(amount="1e3")]), "invalid-amount"),
    ("NaN", payment_body(orders=[_order(amount="NaN")]), "invalid-amount"),
    ("a negative amount", payment_body(orders=[_order(amount="-5.00")]), "invalid-checkout"),
    ("a zero amount", payment_body(orders=[_order(amount="0.00")]), "invalid-checkout"),
    ("a negative commission", payment_body(orders=[_order(commission="-1")]), "invalid-checkout"),
    (
        "fees above the amount",
        payment_body(orders=[_order(commission="6", logistics_fee="5")]),
        "invalid-checkout",
    ),
    ("an unknown currency", payment_body(currency="XYZ"), "unknown-currency"),
    ("a withdrawn currency", payment_body(currency="HRK", orders=[_order()]), "withdrawn-currency"),
    ("a lower-case currency", payment_body(currency="eur"), "unknown-currency"),
    ("an empty order list", payment_body(orders=[]), "invalid-checkout"),
    ("a duplicate order reference", payment_body(orders=[_order(), _order()]), "invalid-checkout"),
    (
        "a missing field",
        {k: v for k, v in payment_body().items() if k != "buyer_id"},
        "validation-error",
    ),
    ("an unknown field", payment_body(coupon="WINTER"), "validation-error"),
    ("a card number", payment_body(card_number="4242424242424242"), "card-data-refused"),
    ("a bad country", payment_body(country="Germany"), "validation-error"),
    ("no provider for the method", payment_body(payment_method="sepa_debit"), "no-provider"),
    ("a non-http return URL", payment_body(return_url="javascript:alert(1)"), "validation-error"),
    ("a buyer email without @", payment_body(buyer_email="buyer.example.com"), "validation-error"),
    (
        "two addresses as the buyer email",
        payment_body(buyer_email="a@shop.example,b@shop.example"),
        "validation-error",
    ),
    (
        "a buyer email with a display name",
        payment_body(buyer_email="Jane <jane@shop.example>"),
        "validation-error",
    ),
    ("a bad buyer locale", payment_body(buyer_locale="English please"), "validation-error"),
    (
        "a day that does not exist",
        payment_body(orders=[_order(estimated_delivery="2026-02-30")]),
        "validation-error",
    ),
    (
        "a delivery range ending before it starts",
        payment_body(orders=[_order(estimated_delivery="2026-12-03/2026-12-01")]),
        "validation-error",
    ),
    (
        "an ISO week date as delivery",
        payment_body(orders=[_order(estimated_delivery="2026-W49-1")]),
        "validation-error",
    ),
]


@pytest.mark.parametrize(("case", "body", "problem"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
def test_bad_body_is_a_problem_and_writes_nothing(
    client: TestClient, database_url: str, case: str, body: dict[str, Any], problem: str
) -> None:
    response = client.post("/v1/payments", json=body, headers=auth(idempotency_key=f"k-{case}"))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == PROBLEM + problem
    assert response.json()["detail"]
    assert set(count_rows(database_url).values()) == {0}


def test_a_bad_delivery_estimate_points_at_its_order(client: TestClient) -> None:
    body = payment_body(
        orders=[_order(), _order(reference="r2", estimated_delivery="2026-12-03/2026-12-01")]
    )
    response = client.post("/v1/payments", json=body, headers=auth(idempotency_key="k-range"))
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error == {
        "pointer": "/orders/1/estimated_delivery",
        "detail": "the end of an estimated delivery range is before its start",
    }


def test_a_bad_buyer_email_is_not_repeated_in_the_problem(client: TestClient) -> None:
    body = payment_body(buyer_email="jane.doe@@shop.example")
    response = client.post("/v1/payments", json=body, headers=auth(idempotency_key="k-mail"))
    assert response.status_code == 422
    assert [e["pointer"] for e in response.json()["errors"]] == ["/buyer_email"]
    assert "jane.doe" not in response.text


def test_missing_idempotency_key_is_400(client: TestClient, database_url: str) -> None:
    response = client.post("/v1/payments", json=payment_body(), headers=auth())
    assert response.status_code == 400
    assert response.json()["type"] == PROBLEM + "idempotency-key-missing"
    assert set(count_rows(database_url).values()) == {0}


def test_malformed_json_is_400(client: TestClient, database_url: str) -> None:
    headers = {**auth(idempotency_key="k"), "content-type": "application/json"}
    for raw in (b"{", b'{"amount": NaN}', b""):
        response = client.post("/v1/payments", content=raw, headers=headers)
        assert response.status_code == 400, raw
        assert response.json()["type"] == PROBLEM + "invalid-json"
    assert set(count_rows(database_url).values()) == {0}


def test_form_body_is_415(client: TestClient) -> None:
    response = client.post("/v1/payments", data={"a": "b"}, headers=auth(idempotency_key="k"))
    assert response.status_code == 415
    assert response.json()["type"] == PROBLEM + "unsupported-media-type"


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic pmx_dev_sandbox_key", "Bearer"])
def test_missing_or_wrong_api_key_is_401(
    client: TestClient, database_url: str, header: str | None
) -> None:
    headers = {"Idempotency-Key": "k"} | ({"Authorization": header} if header else {})
    response = client.post("/v1/payments", json=payment_body(), headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["type"] == PROBLEM + "unauthorized"
    assert (
        client.get("/v1/payments/pay_x", headers={"Authorization": header or ""}).status_code == 401
    )
    assert set(count_rows(database_url).values()) == {0}


def test_unknown_payment_and_route_are_404_problems(client: TestClient) -> None:
    response = client.get("/v1/payments/pay_missing", headers=auth())
    assert response.status_code == 404
    assert response.json()["type"] == PROBLEM + "payment-not-found"
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_overlong_idempotency_key_is_400(client: TestClient) -> None:
    response = client.post(
        "/v1/payments", json=payment_body(), headers=auth(idempotency_key="k" * 256)
    )
    assert response.status_code == 400
    assert response.json()["type"] == PROBLEM + "invalid-idempotency-key"


def test_openapi_documents_the_payment_endpoints(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    post = spec["paths"]["/v1/payments"]["post"]
    assert post["requestBody"]["required"] is True
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in post["parameters"])
    assert "/v1/payments/{payment_id}" in spec["paths"]
    assert "/v1/webhooks/{provider}" in spec["paths"]


def test_openapi_request_schema_resolves_and_declares_bearer_auth(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/v1/payments"]["post"]["requestBody"]["content"]["application/json"]
    assert "$ref" not in json.dumps(body["schema"])
    assert (
        body["schema"]["properties"]["orders"]["items"]["properties"]["amount"]["type"] == "string"
    )
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_a_body_that_is_not_an_object_points_at_the_whole_document(client: TestClient) -> None:
    response = client.post("/v1/payments", json=[1, 2], headers=auth(idempotency_key="arr"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == ""
