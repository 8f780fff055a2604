"""Chargebacks end to end: the sandbox PSP's bank disputes a payment, paymux's webhook
freezes the money, and the decision gives it back or lets it go; payout methods by API."""

from __future__ import annotations

import time
from typing import Any

import httpx

from paymux_test_support import (
    SUCCESS_CARD,
    auth,
    ledger_totals,
    live_service,
    pay_on_hosted_page,
    payment_body,
    wait_for_status,
)

PROBLEM = "https://paymux.dev/problems/"


def _paid(client: httpx.Client, key: str) -> tuple[dict[str, Any], str]:
    """A paid two-seller payment (seller-a 30.00, seller-b 12.50) and its sandbox token."""
    created = client.post("/v1/payments", json=payment_body(), headers=auth(idempotency_key=key))
    assert created.status_code == 201, created.text
    redirect_url = created.json()["redirect_url"]
    pay_on_hosted_page(redirect_url, SUCCESS_CARD)
    return wait_for_status(client, created.json()["id"], "succeeded"), redirect_url.rsplit("/")[-1]


def _chargebacks(client: httpx.Client, payment_id: str, status: str) -> list[dict[str, Any]]:
    """The payment's chargebacks once the last one reached ``status`` (webhooks are async)."""
    deadline = time.monotonic() + 3.0
    while True:
        found: list[dict[str, Any]] = client.get(f"/v1/payments/{payment_id}/chargebacks").json()[
            "chargebacks"
        ]
        if found and found[-1]["status"] == status:
            return found
        assert time.monotonic() < deadline, f"no {status} chargeback: {found}"
        time.sleep(0.05)


def _wallet(client: httpx.Client, seller: str) -> dict[str, str]:
    (balance,) = client.get(f"/v1/wallets/{seller}").json()["balances"]
    return {k: balance[k] for k in ("pending", "available", "disputed", "receivable")}


def test_a_dispute_freezes_the_money_and_losing_it_lets_it_go(database_url: str) -> None:
    with live_service(database_url) as service, service.client() as client:
        payment, token = _paid(client, "pay-1")
        order_a, order_b = (order["id"] for order in payment["orders"])
        shipped = client.post(
            f"/v1/payment-orders/{order_a}/shipment", headers={"Idempotency-Key": "ship-a"}
        )
        assert shipped.status_code == 201, shipped.text
        assert _wallet(client, "seller-a")["available"] == "22.50"

        opened = httpx.post(
            f"{service.url}/sandbox-psp/_admin/disputes", json={"token": token, "amount": 850}
        )
        assert opened.status_code == 201, opened.text
        (chargeback,) = _chargebacks(client, payment["id"], "opened")
        assert (chargeback["amount"], chargeback["unallocated"]) == ("8.50", "0.00")
        parts = {part["payment_order_id"]: part for part in chargeback["parts"]}
        assert (parts[order_a]["amount"], parts[order_a]["released"]) == ("6.00", True)
        assert (parts[order_b]["amount"], parts[order_b]["released"]) == ("2.50", False)
        # seller-a's released 6.00 is taken like a refund: 4.50 seller, 0.60 + 0.90 fees
        assert _wallet(client, "seller-a") == {
            "pending": "0.00", "available": "18.00", "disputed": "6.00", "receivable": "0.00"
        }  # fmt: skip
        assert _wallet(client, "seller-b")["disputed"] == "2.50"
        assert client.get(f"/v1/chargebacks/{chargeback['id']}").json() == chargeback

        resolved = httpx.post(
            f"{service.url}/sandbox-psp/_admin/disputes/{opened.json()['id']}/resolve",
            json={"outcome": "lost"},
        )
        assert resolved.status_code == 200, resolved.text
        _chargebacks(client, payment["id"], "lost")
        assert _wallet(client, "seller-a") == {
            "pending": "0.00", "available": "18.00", "disputed": "0.00", "receivable": "0.00"
        }  # fmt: skip
        assert _wallet(client, "seller-b") == {
            "pending": "10.00", "available": "0.00", "disputed": "0.00", "receivable": "0.00"
        }  # fmt: skip
        # refunds see what the chargeback took: 42.50 paid, 8.50 lost, 34.00 left
        too_much = client.post(
            f"/v1/payments/{payment['id']}/refunds",
            json={"amount": "34.01"},
            headers={"Idempotency-Key": "refund-1"},
        )
        assert too_much.status_code == 422
        assert too_much.json()["type"] == PROBLEM + "refund-not-allowed"
    assert set(ledger_totals(database_url).values()) <= {0}


def test_a_won_dispute_gives_the_money_back(database_url: str) -> None:
    with live_service(database_url) as service, service.client() as client:
        payment, token = _paid(client, "pay-2")
        opened = httpx.post(f"{service.url}/sandbox-psp/_admin/disputes", json={"token": token})
        _chargebacks(client, payment["id"], "opened")
        assert _wallet(client, "seller-a")["disputed"] == "30.00"
        httpx.post(
            f"{service.url}/sandbox-psp/_admin/disputes/{opened.json()['id']}/resolve",
            json={"outcome": "won"},
        )
        _chargebacks(client, payment["id"], "won")
        assert _wallet(client, "seller-a") == {
            "pending": "30.00", "available": "0.00", "disputed": "0.00", "receivable": "0.00"
        }  # fmt: skip
        missing = client.get("/v1/chargebacks/cb_nope")
        assert (missing.status_code, missing.json()["type"]) == (
            404,
            PROBLEM + "chargeback-not-found",
        )


def test_payout_methods_by_api(database_url: str) -> None:
    with live_service(database_url) as service, service.client() as client:
        assert client.get("/v1/sellers/seller-a/payout-method").status_code == 404
        bad = client.put(
            "/v1/sellers/seller-a/payout-method", json={"provider": "nowhere", "account": "x"}
        )
        assert (bad.status_code, bad.json()["type"]) == (422, PROBLEM + "invalid-payout-method")
        invalid = client.put(
            "/v1/sellers/seller-a/payout-method",
            json={"provider": "sandbox", "account": "", "details": {"BIC": 1}},
        )
        assert invalid.status_code == 422
        assert invalid.json()["type"] == PROBLEM + "validation-error"
        method = {"provider": "sandbox", "account": "acct_seller_a", "holder_name": "Seller A",
                  "details": {"bic": "COBADEFFXXX"}}  # fmt: skip
        put = client.put("/v1/sellers/seller-a/payout-method", json=method)
        assert put.status_code == 200, put.text
        got = client.get("/v1/sellers/seller-a/payout-method").json()
        assert {k: got[k] for k in method} == method
        assert got["seller_id"] == "seller-a"
