"""No object is readable or writable by a client it does not belong to, on every route of
the OpenAPI document that takes an id in its path.

Client A ("dev") makes one of everything; client B ("other", every scope) asks for each with
A's ids and gets the same 404 a made-up id gets, without changing a row; A then gets its own.
A new id-taking route fails :func:`test_every_id_taking_route_is_walked` until it is added to
``CASES`` below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from paymux.app.factory import create_app
from paymux_security_support import make_everything, quiet_snapshot
from paymux_test_support import (
    OTHER_API_KEY,
    live_service,
    make_settings,
)

PROBLEM = "https://paymux.dev/problems/"
NOT_WALKED = {"/v1/webhooks/{provider}"}
"""Path-id routes without an API key: a PSP's signature authenticates webhooks."""


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
