"""The ledger through the API: paid money is pending, shipment releases it minus fees."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from paymux_test_support import (
    DECLINE_CARD,
    OTHER_API_KEY,
    SUCCESS_CARD,
    auth,
    count_rows,
    live_service,
    pay_on_hosted_page,
    payment_body,
    wait_for_status,
)

PROBLEM = "https://paymux.dev/problems/"
_CLEAR = {"in_transit": "0.00", "disputed": "0.00", "receivable": "0.00"}
"""A wallet balance with no chargebacks and nothing owed."""


def _paid_payment(
    client: httpx.Client, key: str, card: str = SUCCESS_CARD, status: str = "succeeded"
) -> dict[str, Any]:
    created = client.post("/v1/payments", json=payment_body(), headers=auth(idempotency_key=key))
    assert created.status_code == 201, created.text
    pay_on_hosted_page(created.json()["redirect_url"], card)
    return wait_for_status(client, created.json()["id"], status)


def _wallet(client: httpx.Client, seller: str) -> list[dict[str, str]]:
    response = client.get(f"/v1/wallets/{seller}")
    assert response.status_code == 200
    balances: list[dict[str, str]] = response.json()["balances"]
    return balances


def _ship(client: httpx.Client, order_id: str, key: str) -> httpx.Response:
    return client.post(f"/v1/payment-orders/{order_id}/shipment", headers={"Idempotency-Key": key})


def test_payment_then_shipment_moves_money_through_the_wallet(database_url: str) -> None:
    with live_service(database_url) as service, service.client() as client:
        payment = _paid_payment(client, "p1")
        order_a, order_b = payment["orders"]
        assert _wallet(client, "seller-a") == [
            {
                "currency": "EUR",
                "pending": "30.00",
                "available": "0.00",
                "paid_out": "0.00",
                **_CLEAR,
            }
        ]
        assert _wallet(client, "seller-b") == [
            {
                "currency": "EUR",
                "pending": "12.50",
                "available": "0.00",
                "paid_out": "0.00",
                **_CLEAR,
            }
        ]

        shipped = _ship(client, order_a["id"], "ship-a")
        assert shipped.status_code == 201, shipped.text
        body = shipped.json()
        assert (body["released"], body["commission"], body["logistics_fee"]) == (
            "22.50",
            "3.00",
            "4.50",
        )
        assert _wallet(client, "seller-a") == [
            {
                "currency": "EUR",
                "pending": "0.00",
                "available": "22.50",
                "paid_out": "0.00",
                **_CLEAR,
            }
        ]
        replay = _ship(client, order_a["id"], "ship-a")
        assert replay.content == shipped.content
        assert replay.headers["idempotent-replayed"] == "true"
        again = _ship(client, order_a["id"], "ship-a-2")
        assert again.status_code == 409
        assert again.json()["type"] == PROBLEM + "order-already-shipped"

        transaction = client.get(f"/v1/ledger/transactions/{body['ledger_transaction_id']}").json()
        assert transaction["kind"] == "shipment_confirmed"
        assert sum(int(p["amount"].replace(".", "")) for p in transaction["postings"]) == 0
        assert len(transaction["postings"]) == 4

        available_id = next(
            p["account_id"] for p in transaction["postings"] if p["amount"] == "-22.50"
        )
        account = client.get(f"/v1/ledger/accounts/{available_id}").json()
        assert (account["purpose"], account["balance"]) == ("seller_available", "22.50")
        pending_id = next(
            p["account_id"] for p in transaction["postings"] if p["amount"] == "30.00"
        )
        first = client.get(f"/v1/ledger/accounts/{pending_id}/entries", params={"limit": 1}).json()
        assert [e["amount"] for e in first["data"]] == ["-30.00"]
        assert first["has_more"] is True
        second = client.get(
            f"/v1/ledger/accounts/{pending_id}/entries",
            params={"limit": 1, "after": first["next_after"]},
        ).json()
        assert [e["amount"] for e in second["data"]] == ["30.00"]
        assert second["has_more"] is False
        assert second["next_after"] is None

        with service.client(OTHER_API_KEY) as other:
            assert other.get(f"/v1/ledger/accounts/{available_id}").status_code == 404
            hidden = other.get(f"/v1/ledger/transactions/{body['ledger_transaction_id']}")
            assert hidden.status_code == 404
            assert _wallet(other, "seller-a") == []
            foreign = _ship(other, order_b["id"], "ship-b")
            assert foreign.status_code == 404, foreign.text
            assert foreign.json()["type"] == PROBLEM + "payment-order-not-found"


def test_only_succeeded_orders_ship_and_failed_payments_post_nothing(database_url: str) -> None:
    with live_service(database_url) as service, service.client() as client:
        failed = _paid_payment(client, "p-failed", DECLINE_CARD, "failed")
        assert count_rows(database_url)["ledger_transaction"] == 0
        refused = _ship(client, failed["orders"][0]["id"], "ship-failed")
        assert refused.status_code == 409
        assert refused.json()["type"] == PROBLEM + "order-not-succeeded"
        pending = client.post(
            "/v1/payments", json=payment_body(), headers=auth(idempotency_key="p-pending")
        ).json()
        assert _ship(client, pending["orders"][0]["id"], "ship-pending").status_code == 409
        assert _ship(client, "po_missing", "ship-missing").status_code == 404
        body = client.post(
            f"/v1/payment-orders/{pending['orders'][0]['id']}/shipment",
            json={"carrier": "x"},
            headers=auth(idempotency_key="ship-body"),
        )
        assert body.status_code == 422
        assert count_rows(database_url)["ledger_transaction"] == 0


def test_duplicate_webhooks_post_once(database_url: str) -> None:
    with live_service(database_url) as service, service.client() as client:
        _paid_payment(client, "p-dup", "4000 0000 0000 0077")  # webhook delivered twice
        time.sleep(0.3)  # the second delivery has arrived by now
        rows = count_rows(database_url)
        assert rows["ledger_transaction"] == 2  # one payment_succeeded per order
        assert rows["ledger_posting"] == 4


@pytest.mark.postgres
async def test_concurrent_shipments_of_one_order_release_once(postgres_url: str) -> None:
    with live_service(postgres_url) as service, service.client() as client:
        payment = _paid_payment(client, "p-race")
        order_id = payment["orders"][0]["id"]
        async with httpx.AsyncClient(base_url=service.url, headers=auth(), timeout=30) as racer:
            responses = await asyncio.gather(
                *(
                    racer.post(
                        f"/v1/payment-orders/{order_id}/shipment",
                        headers={"Idempotency-Key": f"race-{i}"},
                    )
                    for i in range(20)
                )
            )
        statuses = [r.status_code for r in responses]
        assert statuses.count(201) == 1, statuses
        assert set(statuses) == {201, 409}
        assert _wallet(client, "seller-a") == [
            {
                "currency": "EUR",
                "pending": "0.00",
                "available": "22.50",
                "paid_out": "0.00",
                **_CLEAR,
            }
        ]
        rows = count_rows(postgres_url)
        assert rows["ledger_transaction"] == 3  # two payments succeeded, one shipment
