"""Webhooks: signatures verified, events applied once and monotonically, every test card."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from paymux_sandbox.config import DEFAULT_WEBHOOK_SECRET
from paymux_sandbox.signature import sign
from paymux_test_support import (
    auth,
    count_rows,
    live_service,
    pay_on_hosted_page,
    payment_body,
    wait_for_status,
)

PROBLEM = "https://paymux.dev/problems/"


def _create(client: httpx.Client, key: str = "k1") -> dict[str, Any]:
    response = client.post("/v1/payments", json=payment_body(), headers=auth(idempotency_key=key))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _token(payment: dict[str, Any]) -> str:
    return str(payment["redirect_url"]).rsplit("/", 1)[1]


def _event(token: str, status: str, event_id: str = "evt_test_1") -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "type": f"payment.{status}",
            "created": int(time.time()),
            "data": {"token": token, "status": status, "failure_code": None},
        }
    ).encode()


def _post_webhook(
    service_url: str, body: bytes, *, secret: str = DEFAULT_WEBHOOK_SECRET, age: int = 0
) -> httpx.Response:
    signature = sign(body, secret=secret, timestamp=int(time.time()) - age)
    return httpx.post(
        f"{service_url}/v1/webhooks/sandbox",
        content=body,
        headers={"content-type": "application/json", "sandbox-signature": signature},
    )


def _wait_for_rows(database_url: str, table: str, count: int, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while count_rows(database_url)[table] < count:
        assert time.monotonic() < deadline, f"{table} never reached {count} rows"
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("secret", "age", "reason"),
    [
        ("whsec_forged_secret", 0, "no signature matches"),
        (DEFAULT_WEBHOOK_SECRET, 3600, "tolerance"),
    ],
    ids=["wrong-signature", "stale-timestamp"],
)
def test_forged_webhook_is_rejected_and_changes_nothing(
    database_url: str, secret: str, age: int, reason: str
) -> None:
    with live_service(database_url) as service, service.client() as client:
        payment = _create(client)
        before = count_rows(database_url)
        response = _post_webhook(
            service.url, _event(_token(payment), "succeeded"), secret=secret, age=age
        )
        assert response.status_code == 400
        assert response.json()["type"] == PROBLEM + "webhook-signature-invalid"
        assert reason in response.json()["detail"]
        assert count_rows(database_url) == before
        assert client.get(f"/v1/payments/{payment['id']}").json()["status"] == "pending"


def test_unsigned_and_unreadable_webhooks_are_rejected(database_url: str) -> None:
    with live_service(database_url) as service:
        unsigned = httpx.post(f"{service.url}/v1/webhooks/sandbox", content=b"{}")
        assert unsigned.status_code == 400
        garbage = _post_webhook(service.url, b"not json")
        assert garbage.status_code == 400
        unknown = httpx.post(f"{service.url}/v1/webhooks/nope", content=b"{}")
        assert unknown.status_code == 404
        assert unknown.json()["type"] == PROBLEM + "unknown-provider"
        assert set(count_rows(database_url).values()) == {0}


def test_genuine_webhook_sent_again_answers_2xx_and_changes_nothing(database_url: str) -> None:
    with live_service(database_url) as service, service.client() as client:
        payment = _create(client)
        body = _event(_token(payment), "succeeded", "evt_once")
        first = _post_webhook(service.url, body)
        assert first.status_code == 200
        assert first.json() == {"received": 1, "applied": 1, "duplicates": 0, "unchanged": 0}
        after_first = count_rows(database_url)
        again = _post_webhook(service.url, body)
        assert again.status_code == 200
        assert again.json() == {"received": 1, "applied": 0, "duplicates": 1, "unchanged": 0}
        assert count_rows(database_url) == after_first
        assert client.get(f"/v1/payments/{payment['id']}").json()["status"] == "succeeded"


def test_late_event_never_regresses_a_terminal_state(database_url: str) -> None:
    with live_service(database_url) as service, service.client() as client:
        payment = _create(client)
        token = _token(payment)
        assert _post_webhook(service.url, _event(token, "failed", "evt_1")).json()["applied"] == 1
        late = _post_webhook(service.url, _event(token, "succeeded", "evt_2")).json()
        assert late == {"received": 1, "applied": 0, "duplicates": 0, "unchanged": 1}
        assert client.get(f"/v1/payments/{payment['id']}").json()["status"] == "failed"


def test_event_for_an_unknown_token_asks_for_a_retry_and_writes_nothing(database_url: str) -> None:
    with live_service(database_url) as service:
        response = _post_webhook(service.url, _event("sbx_unknown", "succeeded"))
        assert response.status_code == 404
        assert set(count_rows(database_url).values()) == {0}


@pytest.mark.parametrize(
    ("card", "final", "failure_code", "events"),
    [
        ("4000000000009995", "failed", "insufficient_funds", 1),
        ("4000000000003220", "succeeded", None, 2),
        ("4000000000000077", "succeeded", None, 1),
        ("4000000000000085", "succeeded", None, 2),
        ("5555555555554444", "succeeded", None, 1),
    ],
    ids=["insufficient-funds", "pending-then-success", "webhook-twice", "out-of-order", "any-card"],
)
def test_test_cards_reach_their_documented_outcome(
    database_url: str, card: str, final: str, failure_code: str | None, events: int
) -> None:
    with live_service(database_url) as service, service.client() as client:
        payment = _create(client)
        pay_on_hosted_page(str(payment["redirect_url"]), card)
        settled = wait_for_status(client, str(payment["id"]), final, timeout=3.0)
        assert {o["failure_code"] for o in settled["orders"]} == {failure_code}
        _wait_for_rows(database_url, "processed_webhook_event", events)
        time.sleep(0.3)  # any further (duplicate or late) delivery has arrived by now
        assert count_rows(database_url)["processed_webhook_event"] == events
        assert client.get(f"/v1/payments/{payment['id']}").json()["status"] == final


def test_pending_then_success_is_pending_first(database_url: str) -> None:
    with (
        live_service(database_url, pending_delay_seconds=1.0) as service,
        service.client() as client,
    ):
        payment = _create(client)
        pay_on_hosted_page(str(payment["redirect_url"]), "4000 0000 0000 3220")
        _wait_for_rows(database_url, "processed_webhook_event", 1)
        assert client.get(f"/v1/payments/{payment['id']}").json()["status"] == "pending"
        wait_for_status(client, str(payment["id"]), "succeeded", timeout=3.0)
