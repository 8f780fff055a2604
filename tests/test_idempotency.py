"""Idempotency-Key: replay, conflict, scoping, and resuming after a provider timeout."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from paymux.core.services.payments import derive_psp_idempotency_key
from paymux_test_support import (
    OTHER_API_KEY,
    SUCCESS_CARD,
    auth,
    count_rows,
    live_service,
    pay_on_hosted_page,
    payment_body,
    sandbox_stats,
    wait_for_status,
)

PROBLEM = "https://paymux.dev/problems/"


def test_same_key_same_body_replays_the_stored_response(database_url: str) -> None:
    with live_service(database_url) as service, service.client() as client:
        first = client.post("/v1/payments", json=payment_body(), headers=auth(idempotency_key="k1"))
        assert first.status_code == 201
        assert "idempotent-replayed" not in first.headers
        again = client.post("/v1/payments", json=payment_body(), headers=auth(idempotency_key="k1"))
        assert again.status_code == 201
        assert again.content == first.content
        assert again.headers["idempotent-replayed"] == "true"
        rows = count_rows(database_url)
        assert rows["payment_event"] == 1
        assert rows["idempotency_key"] == 1
        assert sandbox_stats(service.url)["registrations"] == 1


def test_replay_is_the_first_answer_even_after_the_payment_moved_on(database_url: str) -> None:
    with live_service(database_url) as service, service.client() as client:
        first = client.post("/v1/payments", json=payment_body(), headers=auth(idempotency_key="k1"))
        pay_on_hosted_page(first.json()["redirect_url"], SUCCESS_CARD)
        wait_for_status(client, first.json()["id"], "succeeded")
        again = client.post("/v1/payments", json=payment_body(), headers=auth(idempotency_key="k1"))
        assert again.content == first.content
        assert again.json()["status"] == "pending"


def test_same_key_different_body_is_422_and_writes_nothing(database_url: str) -> None:
    with live_service(database_url) as service, service.client() as client:
        client.post("/v1/payments", json=payment_body(), headers=auth(idempotency_key="k1"))
        before = count_rows(database_url)
        other = client.post(
            "/v1/payments",
            json=payment_body(buyer_id="someone-else"),
            headers=auth(idempotency_key="k1"),
        )
        assert other.status_code == 422
        assert other.json()["type"] == PROBLEM + "idempotency-key-reused"
        assert count_rows(database_url) == before


def test_keys_are_scoped_per_client(database_url: str) -> None:
    with live_service(database_url) as service, service.client() as client:
        mine = client.post(
            "/v1/payments", json=payment_body(), headers=auth(idempotency_key="shared")
        )
        theirs = client.post(
            "/v1/payments",
            json=payment_body(),
            headers=auth(OTHER_API_KEY, idempotency_key="shared"),
        )
        assert mine.status_code == theirs.status_code == 201
        assert mine.json()["id"] != theirs.json()["id"]
        assert count_rows(database_url)["payment_event"] == 2
        # and a client never sees another client's payment
        hidden = client.get(f"/v1/payments/{theirs.json()['id']}")
        assert hidden.status_code == 404


def test_psp_key_is_derived_per_client_and_key() -> None:
    assert derive_psp_idempotency_key("a", "k") == derive_psp_idempotency_key("a", "k")
    assert derive_psp_idempotency_key("a", "k") != derive_psp_idempotency_key("b", "k")
    assert derive_psp_idempotency_key("a", "k") != derive_psp_idempotency_key("a", "k2")
    assert len(derive_psp_idempotency_key("a", "k" * 255)) <= 45


def test_provider_timeout_leaves_payment_unknown_and_the_retry_resumes_it(
    database_url: str,
) -> None:
    body = payment_body(buyer_id="sandbox-timeout")
    with (
        live_service(database_url, request_timeout_seconds=1.0, stall_seconds=2.0) as service,
        service.client() as client,
    ):
        first = client.post("/v1/payments", json=body, headers=auth(idempotency_key="t1"))
        assert first.status_code == 503
        assert first.headers["retry-after"] == "1"
        problem = first.json()
        assert problem["type"] == PROBLEM + "provider-unavailable"
        payment_id = problem["payment_id"]
        unknown = client.get(f"/v1/payments/{payment_id}").json()
        assert unknown["status"] == "unknown"
        assert [o["status"] for o in unknown["orders"]] == ["unknown", "unknown"]

        retry = client.post("/v1/payments", json=body, headers=auth(idempotency_key="t1"))
        assert retry.status_code == 201, retry.text
        assert retry.json()["id"] == payment_id
        assert retry.json()["status"] == "pending"
        stats = sandbox_stats(service.url)
        assert (stats["registrations"], stats["registration_requests"]) == (1, 2)
        replay = client.post("/v1/payments", json=body, headers=auth(idempotency_key="t1"))
        assert replay.content == retry.content
        assert count_rows(database_url)["payment_event"] == 1


@pytest.mark.postgres
async def test_fifty_concurrent_requests_with_one_key_make_one_payment(postgres_url: str) -> None:
    body = payment_body()
    with live_service(postgres_url) as service:
        async with httpx.AsyncClient(base_url=service.url, timeout=30.0) as client:

            async def post() -> httpx.Response:
                return await client.post(
                    "/v1/payments", json=body, headers=auth(idempotency_key="same-key")
                )

            responses = await asyncio.gather(*(post() for _ in range(50)))
        statuses = sorted({r.status_code for r in responses})
        assert set(statuses) <= {201, 409}, statuses
        created = [r for r in responses if r.status_code == 201]
        assert created, "no request created the payment"
        assert len({r.content for r in created}) == 1
        for conflict in (r for r in responses if r.status_code == 409):
            assert conflict.json()["type"] == PROBLEM + "idempotency-key-in-use"
        rows = count_rows(postgres_url)
        assert rows["payment_event"] == 1
        assert rows["payment_order"] == 2
        assert rows["idempotency_key"] == 1
        stats = sandbox_stats(service.url)
        assert (stats["registrations"], stats["registration_requests"]) == (1, 1)
