"""The fake Square itself: it refuses what Square's spec refuses, and records everything."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from paymux_square.harness import SquareHarness

AUTH = {"authorization": "Bearer EAAA-test"}


@pytest.fixture
async def harness() -> AsyncIterator[SquareHarness]:
    async with SquareHarness() as harness:
        yield harness


async def test_a_request_that_breaks_the_spec_is_refused_and_recorded(
    harness: SquareHarness,
) -> None:
    async with httpx.AsyncClient(base_url=harness.base_url, headers=AUTH) as client:
        answer = await client.post(
            "/v2/refunds",
            json={"payment_id": "p", "amount_money": {"amount": "five", "currency": "USD"}},
        )
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["code"] == "BAD_REQUEST"
    [invalid] = harness.invalid_requests()
    text = " ".join(invalid.errors)
    assert "idempotency_key" in text
    assert "'five' is not of type 'integer'" in text


async def test_an_operation_outside_the_spec_is_refused(harness: SquareHarness) -> None:
    async with httpx.AsyncClient(base_url=harness.base_url, headers=AUTH) as client:
        answer = await client.post("/v2/payouts", json={})
    assert answer.status_code == 400
    assert len(harness.invalid_requests()) == 1


async def test_requests_without_a_token_are_unauthorized(harness: SquareHarness) -> None:
    async with httpx.AsyncClient(base_url=harness.base_url) as client:
        answer = await client.get("/v2/orders/nope")
    assert answer.status_code == 401
    assert answer.json()["errors"][0]["category"] == "AUTHENTICATION_ERROR"


async def test_unknown_objects_are_not_found(harness: SquareHarness) -> None:
    async with httpx.AsyncClient(base_url=harness.base_url, headers=AUTH) as client:
        for path in ("/v2/orders/nope", "/v2/payments/nope", "/v2/online-checkout/payment-links/x"):
            answer = await client.get(path)
            assert answer.status_code == 404, path
            assert answer.json()["errors"][0]["code"] == "NOT_FOUND"
    assert harness.invalid_requests() == []
    assert [request.path for request in harness.fake.requests] == [
        "/v2/orders/nope",
        "/v2/payments/nope",
        "/v2/online-checkout/payment-links/x",
    ]


async def test_quick_pay_links_work_too(harness: SquareHarness) -> None:
    body = {
        "idempotency_key": "qp-1",
        "quick_pay": {
            "name": "Mug",
            "price_money": {"amount": 800, "currency": "JPY"},
            "location_id": "L1",
        },
    }
    async with httpx.AsyncClient(base_url=harness.base_url, headers=AUTH) as client:
        first = (await client.post("/v2/online-checkout/payment-links", json=body)).json()
        again = (await client.post("/v2/online-checkout/payment-links", json=body)).json()
        body["quick_pay"]["name"] = "Cup"  # type: ignore[index]
        reused = await client.post("/v2/online-checkout/payment-links", json=body)
    assert first == again
    order = harness.fake.orders[first["payment_link"]["order_id"]]
    assert order["total_money"] == {"amount": 800, "currency": "JPY"}
    assert reused.status_code == 400
    assert reused.json()["errors"][0]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert harness.invalid_requests() == []
