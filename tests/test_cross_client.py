"""No object is readable or writable by a client it does not belong to, on every route of
the OpenAPI document that takes an id in its path.

Client A ("dev") makes one of everything; client B ("other", every scope) asks for each with
A's ids and gets the same 404 a made-up id gets, without changing a row; A then gets its own.
A new id-taking route fails :func:`test_every_id_taking_route_is_walked` until it is added to
``CASES`` below.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select
from sqlmodel import SQLModel

from paymux.app.factory import create_app
from paymux.core.domain.jobs import NewJob
from paymux.core.jobs.worker import Worker
from paymux.core.storage.database import Database, sync_url
from paymux.core.storage.job_repository import JobQueue
from paymux.core.storage.unit_of_work import PaymentStore
from paymux_test_support import (
    OTHER_API_KEY,
    SUCCESS_CARD,
    auth,
    live_service,
    make_settings,
    pay_on_hosted_page,
    payment_body,
    wait_for_status,
)

PROBLEM = "https://paymux.dev/problems/"
NOT_WALKED = {"/v1/webhooks/{provider}"}
"""Path-id routes without an API key: a PSP's signature authenticates webhooks."""
SETTLEMENT = (
    b"line_id,type,payment_reference,modification_reference,merchant_reference,currency,"
    b"gross,fee,net,booked_at,batch\n"
    b"sbxln_1,capture,sbxref_nobody,,,EUR,10.00,0.39,9.61,2026-11-23T09:00:00Z,sandbox-20261123\n"
)


@dataclass(frozen=True)
class Case:
    """How one route is asked: its path with A's ids, and what A's own request sends."""

    path: Callable[[dict[str, str]], str]
    json: dict[str, Any] | None = None
    idempotent: bool = False
    namespaced: bool = False
    """The id is a name the client chooses (a seller id): B's request concerns B's own seller
    of that name, so it must show none of A's data rather than answer 404."""


CASES: dict[tuple[str, str], Case] = {
    ("GET", "/v1/payments/{payment_id}"): Case(lambda ids: f"/v1/payments/{ids['payment']}"),
    ("POST", "/v1/payment-orders/{order_id}/shipment"): Case(
        lambda ids: f"/v1/payment-orders/{ids['unshipped_order']}/shipment", idempotent=True
    ),
    ("POST", "/v1/payments/{payment_id}/refunds"): Case(
        lambda ids: f"/v1/payments/{ids['payment']}/refunds",
        json={"payment_order_id": "{unshipped_order}", "amount": "1.00"},
        idempotent=True,
    ),
    ("GET", "/v1/refunds/{refund_id}"): Case(lambda ids: f"/v1/refunds/{ids['refund']}"),
    ("GET", "/v1/payouts/{payout_id}"): Case(lambda ids: f"/v1/payouts/{ids['payout']}"),
    ("GET", "/v1/sellers/{seller_id}/payout-method"): Case(
        lambda ids: "/v1/sellers/seller-a/payout-method"
    ),
    ("PUT", "/v1/sellers/{seller_id}/payout-method"): Case(
        lambda ids: "/v1/sellers/seller-a/payout-method",
        json={"provider": "sandbox", "account": "acct-of-a"},
        namespaced=True,
    ),
    ("GET", "/v1/chargebacks/{chargeback_id}"): Case(
        lambda ids: f"/v1/chargebacks/{ids['chargeback']}"
    ),
    ("GET", "/v1/payments/{payment_id}/chargebacks"): Case(
        lambda ids: f"/v1/payments/{ids['payment']}/chargebacks"
    ),
    ("GET", "/v1/wallets/{seller_id}"): Case(lambda ids: "/v1/wallets/seller-a", namespaced=True),
    ("GET", "/v1/ledger/accounts/{account_id}"): Case(
        lambda ids: f"/v1/ledger/accounts/{ids['account']}"
    ),
    ("GET", "/v1/ledger/accounts/{account_id}/entries"): Case(
        lambda ids: f"/v1/ledger/accounts/{ids['account']}/entries"
    ),
    ("GET", "/v1/ledger/transactions/{transaction_id}"): Case(
        lambda ids: f"/v1/ledger/transactions/{ids['transaction']}"
    ),
    ("GET", "/v1/dead-letters/{job_id}"): Case(lambda ids: f"/v1/dead-letters/{ids['job']}"),
    ("POST", "/v1/dead-letters/{job_id}/replay"): Case(
        lambda ids: f"/v1/dead-letters/{ids['job']}/replay"
    ),
    ("GET", "/v1/reconciliations/{run_id}"): Case(lambda ids: f"/v1/reconciliations/{ids['run']}"),
    ("GET", "/v1/reconciliations/{run_id}/discrepancies"): Case(
        lambda ids: f"/v1/reconciliations/{ids['run']}/discrepancies"
    ),
}


def id_taking_routes() -> set[tuple[str, str]]:
    """Every operation of the OpenAPI document with a path parameter, webhooks aside."""
    app = create_app(make_settings("sqlite+aiosqlite:///:memory:"))
    found = set()
    for path, operations in app.openapi()["paths"].items():
        if "{" not in path or path in NOT_WALKED:
            continue
        for method in operations:
            found.add((method.upper(), path))
    return found


def test_every_id_taking_route_is_walked() -> None:
    assert id_taking_routes() == set(CASES)


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


def made_up(ids: dict[str, str]) -> dict[str, str]:
    """Ids of the same shapes that belong to nobody."""
    return {
        name: value.rsplit("_", 1)[0] + "_000000000000000000000000" for name, value in ids.items()
    }


def send(
    client: httpx.Client, method: str, case: Case, ids: dict[str, str], key: str
) -> httpx.Response:
    body = case.json
    if body is not None:
        body = {name: value.format(**ids) for name, value in body.items()}
    headers = {"Idempotency-Key": key} if case.idempotent else {}
    return client.request(method, case.path(ids), json=body, headers=headers)


@pytest.fixture
def service(database_url: str) -> Iterator[tuple[str, httpx.Client, httpx.Client]]:
    with (
        live_service(database_url, settings={"embedded_worker": "never"}) as running,
        running.client() as a,
        running.client(OTHER_API_KEY) as b,
    ):
        yield running.url, a, b


def test_no_client_reaches_another_clients_objects(
    service: tuple[str, httpx.Client, httpx.Client], database_url: str
) -> None:
    url, a, b = service
    ids = make_everything(url, a, database_url)
    nobodys = made_up(ids)
    before = quiet_snapshot(database_url)
    walked: set[tuple[str, str]] = set()
    for (method, route), case in CASES.items():
        if case.namespaced:
            continue
        theirs = send(b, method, case, ids, key=f"b-{route}")
        assert theirs.status_code == 404, (method, route, theirs.text)
        assert theirs.headers["content-type"] == "application/problem+json"
        assert theirs.json()["type"].endswith("-not-found"), (route, theirs.json())
        unknown = send(b, method, case, nobodys, key=f"b2-{route}")
        # A's id and an id of nobody's look the same to B: no way to tell that one exists
        assert (unknown.status_code, unknown.json()["type"]) == (404, theirs.json()["type"])
        walked.add((method, route))
    # B's answers came from B's own (empty) namespace of sellers: none of A's money
    wallet = b.get("/v1/wallets/seller-a")
    assert (wallet.status_code, wallet.json()["balances"]) == (200, [])
    walked.add(("GET", "/v1/wallets/{seller_id}"))
    assert quiet_snapshot(database_url) == before, "a request of B changed something"

    # B naming its own seller "seller-a" makes B's payout method, not A's
    put = b.put(
        "/v1/sellers/seller-a/payout-method", json={"provider": "sandbox", "account": "acct-of-b"}
    )
    assert (put.status_code, put.json()["account"]) == (200, "acct-of-b"), put.text
    walked.add(("PUT", "/v1/sellers/{seller_id}/payout-method"))
    assert walked == set(CASES)

    # and A gets every one of its own
    for (method, route), case in CASES.items():
        mine = send(a, method, case, ids, key=f"a-{route}")
        assert 200 <= mine.status_code < 300, (method, route, mine.text)
        if method == "GET" and not case.namespaced:
            assert any(value in mine.text for value in ids.values()), (route, mine.text)
    assert a.get("/v1/sellers/seller-a/payout-method").json()["account"] == "acct-of-a"
    assert b.get("/v1/sellers/seller-a/payout-method").json()["account"] == "acct-of-b"
