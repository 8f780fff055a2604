"""The whole international path: a buyer pays in JPY, the PSP settles in USD, the seller is
paid out in EUR.

paymux quotes 1 JPY = 0.0066 USD for the settlement and 1 JPY = 0.0061 EUR for the payout
(fixed rates); the sandbox account settles in USD at its own rate, 1 % below paymux's quote.
Every ledger transaction balances per currency; the FX loss booked by reconciliation is the
difference between the quoted and the settled USD amount, to the cent; the seller's wallet
shows the EUR paid out.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from paymux.currencies import Money
from paymux_fx_support import assert_balanced_per_currency, balance, postings, run_nightly
from paymux_test_support import (
    SUCCESS_CARD,
    auth,
    live_service,
    pay_on_hosted_page,
    payment_body,
    wait_for_status,
)

FX = {"fx": {"fixed_rates": {"JPY/USD": "0.0066", "JPY/EUR": "0.0061"}}}
SANDBOX = {"settlement_currency": "USD", "fx_spread": "0.01"}


def test_jpy_paid_settled_in_usd_and_paid_out_in_eur(database_url: str) -> None:
    with live_service(database_url, settings=FX, **SANDBOX) as service, service.client() as client:
        body = payment_body(
            currency="JPY",
            country="JP",
            orders=[
                {"seller_id": "seller-a", "amount": "10000", "commission": "1000",
                 "logistics_fee": "500", "reference": "order-1"}
            ],
        )  # fmt: skip
        created = client.post("/v1/payments", json=body, headers=auth(idempotency_key="jpy-1"))
        assert created.status_code == 201, created.text
        payment = created.json()
        # presentment JPY, settlement USD at the locked quote: 10000 x 0.0066 = 66.00
        assert (payment["currency"], payment["amount"]) == ("JPY", "10000")
        assert (payment["settlement_currency"], payment["settlement_amount"]) == ("USD", "66.00")
        assert payment["fx_quote"]["rate"] == "0.0066"

        pay_on_hosted_page(payment["redirect_url"], SUCCESS_CARD)
        paid = wait_for_status(client, payment["id"], "succeeded")
        shipped = client.post(
            f"/v1/payment-orders/{paid['orders'][0]['id']}/shipment",
            headers={"Idempotency-Key": "ship-1"},
        )
        assert shipped.status_code == 201, shipped.text

        # the seller's 8500 JPY (10000 less commission and logistics fee) paid out in EUR
        payout = client.post(
            "/v1/payouts",
            json={"seller_id": "seller-a", "currency": "JPY", "payout_currency": "EUR"},
            headers={"Idempotency-Key": "payout-1"},
        )
        assert payout.status_code == 201, payout.text
        sent = payout.json()
        assert (sent["status"], sent["currency"], sent["amount"]) == ("paid", "JPY", "8500")
        # 8500 x 0.0061 = 51.85 EUR
        assert (sent["payout_currency"], sent["payout_amount"]) == ("EUR", "51.85")
        assert sent["fx_quote"]["rate"] == "0.0061"

        wallet = {b["currency"]: b for b in client.get("/v1/wallets/seller-a").json()["balances"]}
        assert wallet["EUR"]["paid_out"] == "51.85"
        assert (wallet["JPY"]["pending"], wallet["JPY"]["available"]) == ("0", "0")

        # what the sandbox settled for the capture, in USD (fee + net = gross converted)
        day = datetime.now(UTC)
        settlement = client.get(f"/sandbox-psp/_admin/settlements/{day.date().isoformat()}")
        assert settlement.status_code == 200, settlement.text
        lines = list(csv.DictReader(io.StringIO(settlement.text)))
        (capture,) = [line for line in lines if line["type"] == "capture"]
        assert capture["settlement_currency"] == "USD"
        settled = Money.parse(capture["fee"], "USD") + Money.parse(capture["net"], "USD")
        assert settled == Money.parse("65.34", "USD")  # 10000 x 0.0066 x 0.99

        assert run_nightly(database_url, service.url, day, settings=FX, **SANDBOX) >= 1
        (run,) = client.get("/v1/reconciliations").json()["reconciliations"]
        assert run["new_discrepancies"] == 0, run
        found = client.get(f"/v1/reconciliations/{run['id']}/discrepancies").json()
        assert found["discrepancies"] == []

        rows = postings(database_url)
        assert_balanced_per_currency(rows)
        # the FX loss is the quoted 66.00 USD less the settled 65.34 USD, to the cent
        assert balance(rows, "fx_gain_loss", "USD") == 6600 - settled.minor == 66
        # the platform's currency positions: got 10000 JPY for 66.00 USD, gave 8500 JPY
        # for 51.85 EUR
        assert {
            currency: balance(rows, "fx_conversion", currency) for currency in ("JPY", "USD", "EUR")
        } == {"JPY": 10000 - 8500, "USD": -6600, "EUR": 5185}
        # the seller's money is all gone out: nothing pending, available or in transit
        for purpose in ("seller_pending", "seller_available", "seller_payout_in_transit"):
            assert balance(rows, purpose, "JPY") == 0
            assert balance(rows, purpose, "EUR") == 0
        # the platform kept its commission and logistics fee in JPY
        assert balance(rows, "commission", "JPY") == -1000
        assert balance(rows, "logistics_fees", "JPY") == -500
        # USD clearing is fully accounted for: fee, FX loss and the payout to the bank
        assert balance(rows, "psp_clearing", "USD") == 0
