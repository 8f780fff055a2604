"""Refunds through the API: never more than paid, posted before and after release."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

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


def _paid(client: httpx.Client, key: str) -> dict[str, Any]:
    created = client.post("/v1/payments", json=payment_body(), headers=auth(idempotency_key=key))
    assert created.status_code == 201, created.text
    pay_on_hosted_page(created.json()["redirect_url"], SUCCESS_CARD)
    return wait_for_status(client, created.json()["id"], "succeeded")


def _refund(client: httpx.Client, payment_id: str, key: str, **body: Any) -> httpx.Response:
    return client.post(
        f"/v1/payments/{payment_id}/refunds", json=body, headers={"Idempotency-Key": key}
    )


def _wallet(client: httpx.Client, seller: str) -> dict[str, str]:
    (balance,) = client.get(f"/v1/wallets/{seller}").json()["balances"]
    return {"pending": balance["pending"], "available": balance["available"]}


def _ledger_total(client: httpx.Client, transaction_ids: list[str]) -> int:
    total = 0
    for transaction_id in transaction_ids:
        postings = client.get(f"/v1/ledger/transactions/{transaction_id}").json()["postings"]
        total += sum(int(p["amount"].replace(".", "")) for p in postings)
    return total


def test_full_refund_before_shipment(database_url: str) -> None:
    with live_service(database_url) as service, service.client() as client:
        payment = _paid(client, "p1")
        refund = _refund(client, payment["id"], "r1")
        assert refund.status_code == 201, refund.text
        body = refund.json()
        assert (body["status"], body["amount"]) == ("succeeded", "42.50")
        assert [p["amount"] for p in body["parts"]] == ["30.00", "12.50"]
        assert _wallet(client, "seller-a") == {"pending": "0.00", "available": "0.00"}
        assert _wallet(client, "seller-b") == {"pending": "0.00", "available": "0.00"}
        replay = _refund(client, payment["id"], "r1")
        assert replay.content == refund.content
        assert sandbox_stats(service.url)["refunds"] == 1
        nothing_left = _refund(client, payment["id"], "r2")
        assert nothing_left.status_code == 422
        assert nothing_left.json()["type"] == PROBLEM + "refund-not-allowed"
        ship = client.post(
            f"/v1/payment-orders/{payment['orders'][0]['id']}/shipment",
            headers={"Idempotency-Key": "s1"},
        )
        assert ship.status_code == 409
        assert ship.json()["type"] == PROBLEM + "order-fully-refunded"
        assert client.get(f"/v1/refunds/{body['id']}").json() == body


def test_partial_refund_then_shipment_releases_the_rest(database_url: str) -> None:
    with live_service(database_url) as service, service.client() as client:
        payment = _paid(client, "p1")
        order_a = payment["orders"][0]
        refund = _refund(
            client, payment["id"], "r1", payment_order_id=order_a["id"], amount="10.00"
        )
        assert refund.json()["status"] == "succeeded"
        assert _wallet(client, "seller-a") == {"pending": "20.00", "available": "0.00"}
        ship = client.post(
            f"/v1/payment-orders/{order_a['id']}/shipment", headers={"Idempotency-Key": "s1"}
        ).json()
        # 20.00 left, split like 22.50 : 3.00 : 4.50
        assert (ship["released"], ship["commission"], ship["logistics_fee"]) == (
            "15.00",
            "2.00",
            "3.00",
        )
        assert _wallet(client, "seller-a") == {"pending": "0.00", "available": "15.00"}
        after = _refund(client, payment["id"], "r2", payment_order_id=order_a["id"], amount="20.00")
        assert after.json()["status"] == "succeeded"
        assert _wallet(client, "seller-a") == {"pending": "0.00", "available": "0.00"}
        rows = count_rows(database_url)
        assert rows["ledger_transaction"] == 5  # 2 paid, 1 refund, 1 shipment, 1 refund


def test_refunds_that_cannot_be_are_problems_and_write_nothing(database_url: str) -> None:
    with live_service(database_url) as service, service.client() as client:
        payment = _paid(client, "p1")
        unpaid = client.post(
            "/v1/payments", json=payment_body(), headers=auth(idempotency_key="p2")
        ).json()
        before = count_rows(database_url)
        cases: list[tuple[str, dict[str, Any], int, str]] = [
            (payment["id"], {"amount": "42.51"}, 422, "refund-not-allowed"),
            (payment["id"], {"amount": "0.00"}, 422, "refund-not-allowed"),
            (payment["id"], {"amount": "1.001"}, 422, "invalid-amount"),
            (payment["id"], {"amount": 5}, 422, "invalid-amount"),
            (payment["id"], {"payment_order_id": "po_nope"}, 404, "payment-order-not-found"),
            (payment["id"], {"card": "x"}, 422, "validation-error"),
            (unpaid["id"], {}, 422, "refund-not-allowed"),
            ("pay_nope", {}, 404, "payment-not-found"),
        ]
        for index, (payment_id, body, status, problem) in enumerate(cases):
            answer = _refund(client, payment_id, f"bad-{index}", **body)
            assert (answer.status_code, answer.json()["type"]) == (status, PROBLEM + problem), body
        with service.client(OTHER_API_KEY) as other:
            foreign = _refund(other, payment["id"], "foreign")
            assert foreign.status_code == 404
        assert count_rows(database_url) == before
        assert sandbox_stats(service.url)["refunds"] == 0


def test_a_declined_refund_posts_nothing_and_frees_the_amount(database_url: str) -> None:
    with live_service(database_url) as service, service.client() as client:
        payment = _paid(client, "p1")
        declined = _refund(client, payment["id"], "r1", reason="sandbox-decline").json()
        assert (declined["status"], declined["failure_code"]) == ("failed", "refund_declined")
        assert _wallet(client, "seller-a") == {"pending": "30.00", "available": "0.00"}
        assert count_rows(database_url)["ledger_transaction"] == 2
        retried = _refund(client, payment["id"], "r2").json()
        assert (retried["status"], retried["amount"]) == ("succeeded", "42.50")


@pytest.mark.postgres
async def test_concurrent_refunds_never_exceed_the_payment(postgres_url: str) -> None:
    with live_service(postgres_url) as service, service.client() as client:
        payment = _paid(client, "p-race")
        async with httpx.AsyncClient(base_url=service.url, headers=auth(), timeout=30) as racer:
            answers = await asyncio.gather(
                *(
                    racer.post(
                        f"/v1/payments/{payment['id']}/refunds",
                        json={"amount": "10.00"},
                        headers={"Idempotency-Key": f"race-{i}"},
                    )
                    for i in range(12)
                )
            )
        succeeded = [a for a in answers if a.status_code == 201]
        assert len(succeeded) == 4, [a.status_code for a in answers]
        assert {a.status_code for a in answers} == {201, 422}
        pending = [_wallet(client, seller)["pending"] for seller in ("seller-a", "seller-b")]
        assert sum(int(p.replace(".", "")) for p in pending) == 250  # 42.50 - 4 x 10.00
        assert all(not p.startswith("-") for p in pending)
        assert sandbox_stats(service.url)["refunds"] == 4
