"""The whole flow through a real server: create, pay on the hosted page, webhook applied."""

from __future__ import annotations

import time

import httpx
import pytest

from paymux_test_support import (
    DECLINE_CARD,
    SUCCESS_CARD,
    auth,
    live_service,
    outbox_payloads,
    pay_on_hosted_page,
    payment_body,
    wait_for_status,
)


def _create(client: httpx.Client, key: str, **overrides: object) -> dict[str, object]:
    response = client.post(
        "/v1/payments", json=payment_body(**overrides), headers=auth(idempotency_key=key)
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


@pytest.mark.parametrize(
    ("card", "status", "failure_code"),
    [(SUCCESS_CARD, "succeeded", None), (DECLINE_CARD, "failed", "card_declined")],
)
def test_pay_on_hosted_page_settles_both_orders(
    database_url: str, card: str, status: str, failure_code: str | None
) -> None:
    with live_service(database_url) as service, service.client() as client:
        payment = _create(client, "flow-1")
        assert payment["status"] == "pending"
        assert payment["amount"] == "42.50"
        orders = payment["orders"]
        assert isinstance(orders, list)
        assert [o["status"] for o in orders] == ["pending", "pending"]
        redirect_url = payment["redirect_url"]
        assert isinstance(redirect_url, str)
        assert redirect_url.startswith(f"{service.url}/sandbox-psp/pay/")

        started = time.monotonic()
        landed = pay_on_hosted_page(redirect_url, card)
        assert landed.status_code == 200
        assert str(landed.url).startswith(f"{service.url}/checkout/{payment['id']}")

        settled = wait_for_status(client, str(payment["id"]), status, timeout=2.0)
        assert time.monotonic() - started < 2.0
        assert [o["status"] for o in settled["orders"]] == [status, status]
        assert [o["failure_code"] for o in settled["orders"]] == [failure_code, failure_code]
        assert settled["next_action"] is None


def test_buyer_contact_and_delivery_estimates_are_kept_and_returned(database_url: str) -> None:
    orders = payment_body()["orders"]
    orders[0]["estimated_delivery"] = "2026-12-01/2026-12-03"
    orders[1]["estimated_delivery"] = "2026-11-28"
    with live_service(database_url) as service, service.client() as client:
        created = _create(
            client,
            "contact-1",
            orders=orders,
            buyer_email="jane@shop.example",
            buyer_locale="de-DE",
        )
        shown = client.get(f"/v1/payments/{created['id']}").json()
        plain = _create(client, "contact-2")
    for body in (created, shown):
        assert body["buyer_email"] == "jane@shop.example"
        assert body["buyer_locale"] == "de-DE"
        assert _estimates(body) == ["2026-12-01/2026-12-03", "2026-11-28"]
    assert plain["buyer_email"] is None
    assert plain["buyer_locale"] is None
    assert _estimates(plain) == [None, None]
    events = outbox_payloads(database_url)
    assert events
    assert not [event for event in events if "jane@shop.example" in event]


def _estimates(payment: dict[str, object]) -> list[object]:
    orders = payment["orders"]
    assert isinstance(orders, list)
    return [order["estimated_delivery"] for order in orders]
