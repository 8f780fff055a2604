"""Payouts through the API and the batch command: never more than available, never twice."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from paymux.app.cli import cli
from paymux_test_support import (
    API_KEY,
    OTHER_API_KEY,
    SUCCESS_CARD,
    auth,
    count_rows,
    ledger_totals,
    live_service,
    pay_on_hosted_page,
    payment_body,
    sandbox_stats,
    wait_for_status,
)

PROBLEM = "https://paymux.dev/problems/"


def _sold(client: httpx.Client, key: str, seller: str, amount: str = "30.00") -> dict[str, Any]:
    """A paid and shipped order of ``seller`` (commission 3.00, logistics fee 4.50)."""
    body = payment_body(
        orders=[
            {"seller_id": seller, "amount": amount, "commission": "3.00",
             "logistics_fee": "4.50", "reference": "o1"}
        ]
    )  # fmt: skip
    created = client.post("/v1/payments", json=body, headers=auth(idempotency_key=key))
    pay_on_hosted_page(created.json()["redirect_url"], SUCCESS_CARD)
    payment = wait_for_status(client, created.json()["id"], "succeeded")
    shipped = client.post(
        f"/v1/payment-orders/{payment['orders'][0]['id']}/shipment",
        headers={"Idempotency-Key": f"ship-{key}"},
    )
    assert shipped.status_code == 201, shipped.text
    return payment


def _payout(client: httpx.Client, key: str, **body: Any) -> httpx.Response:
    return client.post("/v1/payouts", json=body, headers={"Idempotency-Key": key})


def _wallet(client: httpx.Client, seller: str) -> dict[str, str]:
    (balance,) = client.get(f"/v1/wallets/{seller}").json()["balances"]
    return {k: balance[k] for k in ("pending", "available", "paid_out")}


def test_payout_of_everything_available(database_url: str) -> None:
    with live_service(database_url) as service, service.client() as client:
        _sold(client, "p1", "seller-a")
        payout = _payout(client, "out-1", seller_id="seller-a", currency="EUR")
        assert payout.status_code == 201, payout.text
        body = payout.json()
        assert (body["status"], body["amount"], body["provider"]) == ("paid", "22.50", "sandbox")
        assert _wallet(client, "seller-a") == {
            "pending": "0.00",
            "available": "0.00",
            "paid_out": "22.50",
        }
        assert (
            _payout(client, "out-1", seller_id="seller-a", currency="EUR").content == payout.content
        )
        nothing = _payout(client, "out-2", seller_id="seller-a", currency="EUR")
        assert (nothing.status_code, nothing.json()["type"]) == (
            422,
            PROBLEM + "payout-not-allowed",
        )
        assert client.get(f"/v1/payouts/{body['id']}").json() == body
        with service.client(OTHER_API_KEY) as other:
            assert other.get(f"/v1/payouts/{body['id']}").status_code == 404
        assert sandbox_stats(service.url)["payouts"] == 1
        assert set(ledger_totals(database_url).values()) == {0}


def test_bad_payouts_are_problems_and_write_nothing(database_url: str) -> None:
    with live_service(database_url) as service, service.client() as client:
        _sold(client, "p1", "seller-a")
        before = count_rows(database_url)
        cases: list[tuple[dict[str, Any], int, str]] = [
            (
                {"seller_id": "seller-a", "currency": "EUR", "amount": "22.51"},
                422,
                "payout-not-allowed",
            ),
            (
                {"seller_id": "seller-a", "currency": "EUR", "amount": "0"},
                422,
                "payout-not-allowed",
            ),
            ({"seller_id": "seller-a", "currency": "USD"}, 422, "payout-not-allowed"),
            ({"seller_id": "seller-a", "currency": "XYZ"}, 422, "unknown-currency"),
            ({"seller_id": "seller-a", "currency": "EUR", "amount": 5}, 422, "invalid-amount"),
            ({"currency": "EUR"}, 422, "validation-error"),
        ]
        for index, (body, status, problem) in enumerate(cases):
            answer = _payout(client, f"bad-{index}", **body)
            assert (answer.status_code, answer.json()["type"]) == (status, PROBLEM + problem), body
        assert count_rows(database_url)["payout"] == 0
        assert count_rows(database_url)["ledger_transaction"] == before["ledger_transaction"]


def test_a_failed_payout_is_reversed(database_url: str) -> None:
    seller = "sandbox-payout-fails"
    with live_service(database_url) as service, service.client() as client:
        _sold(client, "p1", seller)
        payout = _payout(client, "out-1", seller_id=seller, currency="EUR").json()
        assert (payout["status"], payout["failure_code"]) == ("failed", "account_closed")
        assert _wallet(client, seller) == {
            "pending": "0.00",
            "available": "22.50",
            "paid_out": "0.00",
        }
        assert set(ledger_totals(database_url).values()) == {0}


def test_a_receivable_is_recovered_from_the_next_payout(database_url: str) -> None:
    with live_service(database_url) as service, service.client() as client:
        first = _sold(client, "p1", "seller-a")
        assert (
            _payout(client, "out-1", seller_id="seller-a", currency="EUR", amount="20.00").json()[
                "status"
            ]
            == "paid"
        )
        # refund everything after release: the seller's 22.50 share, only 2.50 is available
        refund = client.post(
            f"/v1/payments/{first['id']}/refunds", json={}, headers={"Idempotency-Key": "r1"}
        )
        assert refund.json()["status"] == "succeeded"
        assert _wallet(client, "seller-a")["available"] == "0.00"
        _sold(client, "p2", "seller-a")
        assert _wallet(client, "seller-a")["available"] == "22.50"
        second = _payout(client, "out-2", seller_id="seller-a", currency="EUR").json()
        assert (second["status"], second["amount"]) == ("paid", "2.50")  # 20.00 recovered first
        assert _wallet(client, "seller-a") == {
            "pending": "0.00",
            "available": "0.00",
            "paid_out": "22.50",
        }
        assert set(ledger_totals(database_url).values()) == {0}


def test_the_batch_pays_each_seller_once(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with live_service(database_url) as service, service.client() as client:
        _sold(client, "p1", "seller-a")
        _sold(client, "p2", "seller-b", amount="12.00")  # 4.50 available: under the threshold
        _sold(client, "p3", "seller-c")
        monkeypatch.setenv("PAYMUX_DATABASE_URL", database_url)
        monkeypatch.setenv("PAYMUX_PUBLIC_URL", service.url)
        monkeypatch.setenv("PAYMUX_API_KEYS", f'{{"{API_KEY}": "dev"}}')
        arguments = ["payouts", "run", "--threshold", "10.00", "--batch-id", "b1"]
        first = CliRunner().invoke(cli, arguments)
        assert first.exit_code == 0, first.output
        assert "paid 2, failed 0 (reversed), pending 0, not paid 0" in first.output
        again = CliRunner().invoke(cli, arguments)
        assert again.exit_code == 0, again.output
        assert sandbox_stats(service.url)["payouts"] == 2
        assert _wallet(client, "seller-b")["available"] == "4.50"
        assert _wallet(client, "seller-a")["paid_out"] == "22.50"
