"""A currency's ISO 4217 exponent holds end to end, through the API and the sandbox.

A KWD payment (three decimals) and a CLP payment (none) each go the whole way: the API's
answer, the sandbox's registration and hosted page, the webhook that makes the payment
succeed, the ledger postings, the wallets, a shipment releasing the money less commission
and logistics fee, a partial refund, a payout, and the sandbox's nightly settlement file
reconciled without a discrepancy. Every amount keeps the currency's exact decimals; an
amount with more decimals than the currency has is refused, and so is a currency no
provider claims, with nothing written.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from paymux.app import create_app
from paymux.core.storage.database import sync_url
from paymux_sandbox.simulator import SandboxPsp
from paymux_test_support import (
    SUCCESS_CARD,
    auth,
    count_rows,
    ledger_totals,
    live_service,
    make_settings,
    outbox_payloads,
    pay_on_hosted_page,
    payment_body,
    wait_for_status,
)

PROBLEM = "https://paymux.dev/problems/"


@dataclass(frozen=True)
class Scenario:
    """One currency's amounts, as decimal strings with exactly its exponent's decimals."""

    currency: str
    country: str
    shipped: str
    """The order that ships and is paid out."""
    commission: str
    logistics_fee: str
    refunded_order: str
    """The order partly refunded before it ships."""
    refund: str
    total: str
    payout: str
    """``shipped - commission - logistics_fee``."""
    left_pending: str
    """``refunded_order - refund``."""
    zero: str
    hosted_page: str
    """The total as the sandbox's hosted page shows it."""
    capture_fee: str
    """The sandbox's fee on the total: 1.4 % rounded half up, plus 25 minor units."""
    minor: dict[str, int]
    """The same amounts in minor units."""
    too_precise: str
    """An amount with one decimal more than the currency has."""


KWD = Scenario(
    currency="KWD",
    country="KW",
    shipped="12.345",
    commission="1.235",
    logistics_fee="0.500",
    refunded_order="7.125",
    refund="2.005",
    total="19.470",
    payout="10.610",
    left_pending="5.120",
    zero="0.000",
    hosted_page="KWD19.470",
    capture_fee="0.298",  # (19470 * 14 + 500) // 1000 + 25 = 273 + 25
    minor={"shipped": 12345, "commission": 1235, "logistics_fee": 500, "refund": 2005,
           "total": 19470, "payout": 10610, "capture_fee": 298},
    too_precise="12.3456",
)  # fmt: skip

CLP = Scenario(
    currency="CLP",
    country="CL",
    shipped="15000",
    commission="1500",
    logistics_fee="500",
    refunded_order="8000",
    refund="1999",
    total="23000",
    payout="13000",
    left_pending="6001",
    zero="0",
    hosted_page="CLP23,000",
    capture_fee="347",  # (23000 * 14 + 500) // 1000 + 25 = 322 + 25
    minor={"shipped": 15000, "commission": 1500, "logistics_fee": 500, "refund": 1999,
           "total": 23000, "payout": 13000, "capture_fee": 347},
    too_precise="15000.5",
)  # fmt: skip


def _sandbox(app: Any) -> SandboxPsp:
    (mount,) = [m for m in app.state.paymux.mounts if m.path == "/sandbox-psp"]
    psp: SandboxPsp = mount.app.state.psp
    return psp


def _postings(database_url: str, currency: str) -> list[tuple[str, str, str, int]]:
    """``(transaction kind, account purpose, owner, amount)`` of every posting in
    ``currency``, in order."""
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT t.kind, a.purpose, a.owner_id, p.amount_minor, p.currency, "
                    "a.currency FROM ledger_posting p "
                    "JOIN ledger_transaction t ON t.id = p.transaction_id "
                    "JOIN ledger_account a ON a.id = p.account_id ORDER BY p.id"
                )
            ).all()
    finally:
        engine.dispose()
    assert {(row[4], row[5]) for row in rows} == {(currency, currency)}
    return [(str(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in rows]


def _balance(postings: list[tuple[str, str, str, int]], purpose: str, owner: str) -> int:
    return sum(amount for _, p, o, amount in postings if (p, o) == (purpose, owner))


def _wallet(client: httpx.Client, seller: str) -> dict[str, str]:
    response = client.get(f"/v1/wallets/{seller}")
    assert response.status_code == 200, response.text
    (balance,) = response.json()["balances"]
    return dict(balance)


@pytest.mark.parametrize("case", [KWD, CLP], ids=lambda case: case.currency)
def test_the_currency_exponent_holds_end_to_end(database_url: str, case: Scenario) -> None:
    with live_service(database_url, settings={"embedded_worker": "never"}) as service:
        psp = _sandbox(service.app)
        now = datetime.now(UTC)
        psp.clock = lambda: now
        with service.client() as client:
            body = payment_body(
                currency=case.currency,
                country=case.country,
                orders=[
                    {"seller_id": "seller-ship", "amount": case.shipped,
                     "commission": case.commission, "logistics_fee": case.logistics_fee,
                     "reference": "o1"},
                    {"seller_id": "seller-refund", "amount": case.refunded_order,
                     "reference": "o2"},
                ],
            )  # fmt: skip
            created = client.post("/v1/payments", json=body, headers=auth(idempotency_key="p1"))
            assert created.status_code == 201, created.text
            payment = created.json()
            assert (payment["currency"], payment["amount"]) == (case.currency, case.total)
            shown = [(o["amount"], o["commission"], o["logistics_fee"]) for o in payment["orders"]]
            assert shown == [
                (case.shipped, case.commission, case.logistics_fee),
                (case.refunded_order, case.zero, case.zero),
            ]

            # The sandbox got the total in ISO minor units and shows it with its decimals.
            (registered,) = psp.registrations_report(payment["id"])
            (checkout,) = registered["checkouts"]
            assert (checkout["amount"], checkout["currency"]) == (
                case.minor["total"],
                case.currency,
            )
            page = httpx.get(payment["redirect_url"], timeout=10.0)
            assert f'<strong id="amount">{case.hosted_page}</strong>' in page.text

            # The buyer pays; the sandbox's webhook makes the payment succeed.
            pay_on_hosted_page(payment["redirect_url"], SUCCESS_CARD)
            paid = wait_for_status(client, payment["id"], "succeeded", timeout=5.0)
            assert psp.webhooks_delivered >= 1
            assert paid["amount"] == case.total
            assert [o["amount"] for o in paid["orders"]] == [case.shipped, case.refunded_order]
            created_events = [
                json.loads(payload)
                for payload in outbox_payloads(database_url)
                if json.loads(payload).get("amount_minor") is not None
            ]
            assert [(e["currency"], e["amount_minor"]) for e in created_events] == [
                (case.currency, case.minor["total"])
            ]
            postings = _postings(database_url, case.currency)
            assert _balance(postings, "psp_clearing", "sandbox") == case.minor["total"]
            assert _balance(postings, "seller_pending", "seller-ship") == -case.minor["shipped"]
            assert _wallet(client, "seller-ship")["pending"] == case.shipped

            # Shipment releases the order less the commission and the logistics fee.
            order_ids = [o["id"] for o in paid["orders"]]
            shipped = client.post(
                f"/v1/payment-orders/{order_ids[0]}/shipment", headers={"Idempotency-Key": "s1"}
            )
            assert shipped.status_code == 201, shipped.text
            wallet = _wallet(client, "seller-ship")
            assert (wallet["pending"], wallet["available"]) == (case.zero, case.payout)
            postings = _postings(database_url, case.currency)
            assert _balance(postings, "commission", "platform") == -case.minor["commission"]
            assert _balance(postings, "logistics_fees", "platform") == -case.minor["logistics_fee"]

            # A partial refund of the other order, to the minor unit.
            refund = client.post(
                f"/v1/payments/{payment['id']}/refunds",
                json={"payment_order_id": order_ids[1], "amount": case.refund},
                headers={"Idempotency-Key": "r1"},
            )
            assert refund.status_code == 201, refund.text
            assert (refund.json()["amount"], refund.json()["status"]) == (case.refund, "succeeded")
            assert _wallet(client, "seller-refund")["pending"] == case.left_pending

            # The payout sends the available amount; the sandbox gets it in minor units.
            payout = client.post(
                "/v1/payouts",
                json={"seller_id": "seller-ship", "currency": case.currency},
                headers={"Idempotency-Key": "out1"},
            )
            assert payout.status_code == 201, payout.text
            assert (payout.json()["amount"], payout.json()["status"]) == (case.payout, "paid")
            wallet = _wallet(client, "seller-ship")
            assert (wallet["available"], wallet["paid_out"]) == (case.zero, case.payout)
            booked = {(b.type, b.gross_minor, b.currency) for b in psp.bookings}
            assert booked == {
                ("capture", case.minor["total"], case.currency),
                ("refund", -case.minor["refund"], case.currency),
                ("payout", -case.minor["payout"], case.currency),
            }

            # Every ledger transaction balances in the currency, to the minor unit.
            postings = _postings(database_url, case.currency)
            by_kind: dict[str, int] = {}
            for kind, _, _, amount in postings:
                by_kind[kind] = by_kind.get(kind, 0) + amount
            assert set(by_kind.values()) == {0}
            assert ledger_totals(database_url) == {case.currency: 0}

            # The nightly settlement file carries the currency's decimals and reconciles.
            day = client.get(f"/sandbox-psp/_admin/settlements/{now.date().isoformat()}")
            assert day.status_code == 200, day.text
            lines = list(csv.DictReader(io.StringIO(day.text)))
            amounts = {(line["type"], line["gross"], line["fee"]) for line in lines}
            assert ("capture", case.total, case.capture_fee) in amounts
            assert ("refund", f"-{case.refund}", case.zero) in amounts
            assert ("payout", f"-{case.payout}", case.zero) in amounts
            assert {line["currency"] for line in lines} == {case.currency}
            run = client.post(
                "/v1/reconciliations",
                params={"provider": "sandbox", "file_name": "day.csv"},
                content=day.content,
                headers={"Content-Type": "text/csv", "Idempotency-Key": "recon"},
            )
            assert run.status_code == 201, run.text
            assert run.json()["new_discrepancies"] == 0, run.json()
            found = client.get(f"/v1/reconciliations/{run.json()['id']}/discrepancies").json()
            assert found["discrepancies"] == []
            fees = [b for b in run.json()["summary"]["bookings"] if b["kind"] == "fee"]
            assert sum(b["amount_minor"] for b in fees) == case.minor["capture_fee"]
            postings = _postings(database_url, case.currency)
            assert _balance(postings, "psp_fees", "platform") == case.minor["capture_fee"]
            assert ledger_totals(database_url) == {case.currency: 0}


@pytest.mark.parametrize("case", [KWD, CLP], ids=lambda case: case.currency)
def test_more_decimals_than_the_currency_has_are_refused(database_url: str, case: Scenario) -> None:
    with TestClient(create_app(make_settings(database_url))) as client:
        body = payment_body(
            currency=case.currency,
            country=case.country,
            orders=[{"seller_id": "s", "amount": case.too_precise, "reference": "o1"}],
        )
        response = client.post("/v1/payments", json=body, headers=auth(idempotency_key="k"))
        assert response.status_code == 422, response.text
        problem = response.json()
        assert problem["type"] == PROBLEM + "invalid-amount"
        assert case.currency in problem["detail"]
    assert set(count_rows(database_url).values()) == {0}


def test_a_currency_no_provider_claims_is_refused_with_nothing_written(
    database_url: str,
) -> None:
    settings = make_settings(database_url, currencies=["EUR", "KWD"])
    with TestClient(create_app(settings)) as client:
        explained = client.get(
            "/v1/routing/explain", params={"country": "CL", "currency": "CLP"}, headers=auth()
        )
        assert explained.status_code == 422
        assert explained.json()["explanation"]["candidates"] == [
            {"provider": "sandbox", "outcome": "skipped",
             "reason": "capabilities do not serve currency CLP"}
        ]  # fmt: skip
        body = payment_body(
            currency="CLP",
            country="CL",
            orders=[{"seller_id": "s", "amount": "15000", "reference": "o1"}],
        )
        response = client.post("/v1/payments", json=body, headers=auth(idempotency_key="clp"))
        assert response.status_code == 422, response.text
        problem = response.json()
        assert problem["type"] == PROBLEM + "no-provider"
        assert problem["detail"] == "no enabled provider accepts card payments in CLP from CL"
        assert set(count_rows(database_url).values()) == {0}
        # The same provider still takes the currencies it claims.
        assert (
            client.get(
                "/v1/routing/explain", params={"country": "KW", "currency": "KWD"}, headers=auth()
            ).json()["provider"]
            == "sandbox"
        )
