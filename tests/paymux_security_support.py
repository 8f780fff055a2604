"""Helpers of the security tests: one object of every kind for a client, and snapshots of
every table to show a refused request wrote nothing."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import create_engine, select
from sqlmodel import SQLModel

from paymux.core.domain.jobs import NewJob
from paymux.core.jobs.worker import Worker
from paymux.core.storage.database import Database, sync_url
from paymux.core.storage.job_repository import JobQueue
from paymux.core.storage.unit_of_work import PaymentStore
from paymux_test_support import (
    SUCCESS_CARD,
    auth,
    pay_on_hosted_page,
    payment_body,
    wait_for_status,
)

SETTLEMENT = (
    b"line_id,type,payment_reference,modification_reference,merchant_reference,currency,"
    b"gross,fee,net,booked_at,batch\n"
    b"sbxln_1,capture,sbxref_nobody,,,EUR,10.00,0.39,9.61,2026-11-23T09:00:00Z,sandbox-20261123\n"
)


def snapshot(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every paymux table."""
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            return {
                table.name: sorted(
                    (tuple(row) for row in connection.execute(select(table))), key=repr
                )
                for table in SQLModel.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def quiet_snapshot(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """A snapshot once nothing changes any more (late webhooks of the sandbox PSP)."""
    deadline = time.monotonic() + 5.0
    before = snapshot(database_url)
    while True:
        time.sleep(0.3)
        now = snapshot(database_url)
        if now == before:
            return now
        assert time.monotonic() < deadline, "the database never settled"
        before = now


def dead_letter(database_url: str) -> str:
    """A job of client A nobody can run, dead-lettered by a worker without handlers (made
    before anything else is queued, so that worker takes nothing else)."""

    async def make() -> str:
        database = Database(database_url)
        try:
            async with PaymentStore(database).begin() as uow:
                await uow.jobs.enqueue(
                    NewJob("no_such_kind", "cross-client", {}),
                    now=datetime.now(UTC),
                    client_id="dev",
                )
                job = await uow.jobs.get_by_key("cross-client")
            await Worker(JobQueue(database), {}, worker_id="test").drain()
            assert job is not None
            return job.id
        finally:
            await database.dispose()

    return asyncio.run(make())


def make_everything(service_url: str, client: httpx.Client, database_url: str) -> dict[str, str]:
    """Client A's objects, one of each kind a route takes an id of."""
    ids = {"job": dead_letter(database_url), "seller": "seller-a"}
    created = client.post("/v1/payments", json=payment_body(), headers=auth(idempotency_key="p"))
    assert created.status_code == 201, created.text
    token = created.json()["redirect_url"].rsplit("/")[-1]
    pay_on_hosted_page(created.json()["redirect_url"], SUCCESS_CARD)
    payment = wait_for_status(client, created.json()["id"], "succeeded")
    ids["payment"] = payment["id"]
    order_a, order_b = (order["id"] for order in payment["orders"])
    ids["unshipped_order"] = order_b
    method = client.put(
        "/v1/sellers/seller-a/payout-method", json={"provider": "sandbox", "account": "acct-of-a"}
    )
    assert method.status_code == 200, method.text
    shipped = client.post(
        f"/v1/payment-orders/{order_a}/shipment", headers={"Idempotency-Key": "ship"}
    )
    assert shipped.status_code == 201, shipped.text
    ids["transaction"] = shipped.json()["ledger_transaction_id"]
    transaction = client.get(f"/v1/ledger/transactions/{ids['transaction']}").json()
    ids["account"] = transaction["postings"][0]["account_id"]
    payout = client.post(
        "/v1/payouts",
        json={"seller_id": "seller-a", "currency": "EUR"},
        headers={"Idempotency-Key": "payout"},
    )
    assert payout.status_code == 201, payout.text
    ids["payout"] = payout.json()["id"]
    refund = client.post(
        f"/v1/payments/{ids['payment']}/refunds",
        json={"payment_order_id": order_b, "amount": "1.00"},
        headers={"Idempotency-Key": "refund"},
    )
    assert refund.status_code == 201, refund.text
    ids["refund"] = refund.json()["id"]
    dispute = httpx.post(
        f"{service_url}/sandbox-psp/_admin/disputes", json={"token": token, "amount": 500}
    )
    assert dispute.status_code == 201, dispute.text
    deadline = time.monotonic() + 5.0
    while not (found := client.get(f"/v1/payments/{ids['payment']}/chargebacks").json())[
        "chargebacks"
    ]:
        assert time.monotonic() < deadline, "no chargeback arrived"
        time.sleep(0.05)
    ids["chargeback"] = found["chargebacks"][0]["id"]
    run = client.post(
        "/v1/reconciliations",
        params={"provider": "sandbox"},
        content=SETTLEMENT,
        headers={"Idempotency-Key": "recon"},
    )
    assert run.status_code == 201, run.text
    ids["run"] = run.json()["id"]
    return ids
