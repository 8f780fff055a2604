"""The nightly reconciliation cycle end to end through the sandbox.

A day of payments, a refund and a payout; the sandbox writes the day's settlement file with
one of each injected fault (a dropped line, a changed amount, a duplicate, a late line);
the worker's nightly job fetches and reconciles it and the alert goes out. Each fault is
found once under its class and nothing else is flagged; fees and the settlement payout are
booked once; the same file again opens nothing; the next day's file, which brings the late
line, resolves its discrepancy.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from paymux.app.runtime import create_runtime
from paymux.core.jobs.reconciliation_jobs import nightly_job
from paymux.core.storage.database import sync_url
from paymux_sandbox.simulator import SandboxPsp
from paymux_test_support import (
    SUCCESS_CARD,
    auth,
    live_service,
    make_settings,
    pay_on_hosted_page,
    payment_body,
    wait_for_status,
)


def _paid(client: httpx.Client, key: str, seller: str, amount: str) -> dict[str, Any]:
    body = payment_body(
        orders=[
            {"seller_id": seller, "amount": amount, "commission": "1.00",
             "logistics_fee": "0.50", "reference": "o1"}
        ]
    )  # fmt: skip
    created = client.post("/v1/payments", json=body, headers=auth(idempotency_key=key))
    assert created.status_code == 201, created.text
    pay_on_hosted_page(created.json()["redirect_url"], SUCCESS_CARD)
    return wait_for_status(client, created.json()["id"], "succeeded", timeout=5.0)


def _sandbox(app: Any) -> SandboxPsp:
    runtime = app.state.paymux
    (mount,) = [m for m in runtime.mounts if m.path == "/sandbox-psp"]
    psp: SandboxPsp = mount.app.state.psp
    return psp


def _nightly(database_url: str, service_url: str, day: datetime) -> int:
    """Run the worker's nightly job of ``day`` now, in a runtime of its own; jobs run."""

    async def run() -> int:
        runtime = create_runtime(
            make_settings(database_url, service_url, settings={"embedded_worker": "never"})
        )
        try:
            job = nightly_job("sandbox", day.date(), hour=3, client_id="dev")
            await runtime.jobs.enqueue(replace(job, run_at=None), client_id="dev")
            return await runtime.create_worker(worker_id="nightly-test").drain()
        finally:
            await runtime.aclose()

    return asyncio.run(run())


def _ledger(database_url: str) -> dict[str, int]:
    """Transactions in the ledger, and the normal balances of the fee and bank accounts."""
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            count = connection.execute(text("SELECT count(*) FROM ledger_transaction")).scalar_one()
            rows = connection.execute(
                text(
                    "SELECT a.purpose, SUM(p.amount_minor) FROM ledger_posting p "
                    "JOIN ledger_account a ON a.id = p.account_id "
                    "WHERE a.purpose IN ('psp_fees', 'bank') GROUP BY a.purpose"
                )
            ).all()
    finally:
        engine.dispose()
    return {"transactions": int(count), **{str(p): int(s) for p, s in rows}}


def _kinds(client: httpx.Client, run_id: str) -> dict[str, list[str]]:
    page = client.get(f"/v1/reconciliations/{run_id}/discrepancies")
    assert page.status_code == 200, page.text
    kinds: dict[str, list[str]] = {}
    for found in page.json()["discrepancies"]:
        kinds.setdefault(found["kind"], []).append(found["subject_id"])
    return {kind: sorted(ids) for kind, ids in kinds.items()}


def test_a_day_with_one_fault_of_each_kind_is_reconciled_end_to_end(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="paymux.reconciliation.alerts")
    with live_service(database_url, settings={"embedded_worker": "never"}) as service:
        psp = _sandbox(service.app)
        now = datetime.now(UTC)
        psp.clock = lambda: now
        with service.client() as client:
            payments = [_paid(client, f"p{i}", f"seller-{i}", "20.00") for i in range(6)]
            ok, dropped, changed, duplicated, late, refunded = (p["id"] for p in payments)
            refund = client.post(
                f"/v1/payments/{refunded}/refunds",
                json={"amount": "5.00"},
                headers={"Idempotency-Key": "r1"},
            )
            assert refund.status_code == 201, refund.text
            order = payments[0]["orders"][0]["id"]
            shipped = client.post(
                f"/v1/payment-orders/{order}/shipment", headers={"Idempotency-Key": "s1"}
            )
            assert shipped.status_code == 201, shipped.text
            payout = client.post(
                "/v1/payouts",
                json={"seller_id": "seller-0", "currency": "EUR"},
                headers={"Idempotency-Key": "out1"},
            )
            assert (payout.status_code, payout.json()["status"]) == (201, "paid"), payout.text

            faults = client.post(
                "/sandbox-psp/_admin/settlement-faults",
                json={
                    "faults": [
                        {"fault": "drop", "reference": dropped, "type": "capture"},
                        {"fault": "change_amount", "reference": changed, "type": "capture"},
                        {"fault": "duplicate", "reference": duplicated, "type": "capture"},
                        {"fault": "late", "reference": late, "type": "capture"},
                    ]
                },
            )
            assert faults.status_code in (200, 201), faults.text

            assert _nightly(database_url, service.url, now) >= 2  # the run and its alert
            (run,) = client.get("/v1/reconciliations").json()["reconciliations"]
            assert (run["provider"], run["source"], run["format"]) == (
                "sandbox",
                "nightly",
                "sandbox_settlement_v1",
            )
            assert _kinds(client, run["id"]) == {
                "missing_in_settlement": sorted([dropped, late]),
                "amount_mismatch": [changed],
                "duplicate_line": [duplicated],
            }
            assert run["new_discrepancies"] == 4
            lines = run["summary"]["lines_by_type"]
            # six captures less the dropped and the late one, plus the duplicate
            assert lines == {"capture": 5, "refund": 1, "payout": 2}
            assert run["lines_matched"] == 6  # three good captures, the refund, both payouts
            ledger = _ledger(database_url)
            fees = sum(b["amount_minor"] for b in run["summary"]["bookings"] if b["kind"] == "fee")
            paid = [b["amount_minor"] for b in run["summary"]["bookings"] if b["kind"] == "payout"]
            assert fees == 4 * 53  # the sandbox's fee on 20.00 is 0.28 + 0.25
            assert ledger["psp_fees"] == fees
            assert ledger["bank"] == sum(paid) > 0
            alerts = [r for r in caplog.records if r.name == "paymux.reconciliation.alerts"]
            assert len(alerts) == 1
            assert alerts[0].by_kind == {  # type: ignore[attr-defined]
                "amount_mismatch": 1,
                "duplicate_line": 1,
                "missing_in_settlement": 2,
            }

            # The same file again: a run that finds nothing new and books nothing.
            day_file = client.get(f"/sandbox-psp/_admin/settlements/{now.date().isoformat()}")
            again = client.post(
                "/v1/reconciliations",
                params={"provider": "sandbox", "file_name": "again.csv"},
                content=day_file.content,
                headers={"Content-Type": "text/csv", "Idempotency-Key": "again"},
            )
            assert again.status_code == 201, again.text
            assert (again.json()["new_discrepancies"], again.json()["resolved_discrepancies"]) == (
                0,
                0,
            )
            assert _kinds(client, again.json()["id"]) == {}
            assert _ledger(database_url) == ledger

            # The next day's file brings the late capture: its discrepancy is resolved.
            psp.clock = lambda: now + timedelta(days=1)
            tomorrow = (now + timedelta(days=1)).date().isoformat()
            next_file = client.get(f"/sandbox-psp/_admin/settlements/{tomorrow}")
            assert next_file.status_code == 200, next_file.text
            following = client.post(
                "/v1/reconciliations",
                params={"provider": "sandbox"},
                content=next_file.content,
                headers={"Idempotency-Key": "next-day"},
            )
            assert following.status_code == 201, following.text
            assert (
                following.json()["new_discrepancies"],
                following.json()["resolved_discrepancies"],
            ) == (0, 1)
            first = client.get(f"/v1/reconciliations/{run['id']}/discrepancies").json()
            resolved = {d["subject_id"]: d["resolved_run_id"] for d in first["discrepancies"]}
            assert resolved[late] == following.json()["id"]
            assert resolved[dropped] is None
            assert len(alerts) == 1  # nothing new, nobody alerted again
            del ok
