"""Square webhooks: signature checks and the mapping of each event type."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from paymux.core.domain.chargebacks import DisputeStatus
from paymux.core.domain.refunds import RefundStatus
from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import (
    CheckoutRegistration,
    CheckoutRequest,
    DisputeEvent,
    ProviderEvent,
    RefundEvent,
    RefundRequest,
    WebhookVerificationError,
)
from paymux.currencies import Money
from paymux_square.config import SquareConfig
from paymux_square.harness import SIGNATURE_KEY, WEBHOOK_URL, SquareHarness
from paymux_square.provider import SquareProvider
from paymux_square.spec_validation import find_spec
from paymux_square.statuses import DISPUTE_STATES, PAYMENT_STATUSES, REFUND_STATUSES
from paymux_square.webhooks import SIGNATURE_HEADER, parse_events, sign, verify

KEY = "pmx-" + "e" * 40


@pytest.fixture
async def harness() -> AsyncIterator[SquareHarness]:
    async with SquareHarness() as harness:
        yield harness
        assert harness.invalid_requests() == []


async def paid(
    harness: SquareHarness, outcome: PaymentStatus = PaymentStatus.SUCCEEDED
) -> CheckoutRegistration:
    request = CheckoutRequest(
        payment_id="pay_1",
        amount=Money(4200, "CAD"),
        country="CA",
        payment_method="card",
        buyer_id="buyer-1",
        order_references=("order-1",),
        return_url="https://paymux.test/checkout/pay_1",
    )
    registration = await harness.provider.register_checkout(request, idempotency_key=KEY)
    await harness.complete_checkout(registration, outcome)
    return registration


def spec_example(schema: str) -> dict[str, Any]:
    spec = json.loads(find_spec().read_text(encoding="utf-8"))
    example: dict[str, Any] = spec["components"]["schemas"][schema]["example"]
    return example


# -- signatures --------------------------------------------------------------------------


async def test_a_genuine_webhook_is_accepted(harness: SquareHarness) -> None:
    registration = await paid(harness)
    headers, body = harness.signed_webhook(registration, PaymentStatus.SUCCEEDED)
    [event] = harness.provider.parse_webhook(headers, body)
    assert isinstance(event, ProviderEvent)
    assert (event.token, event.status) == (registration.token, PaymentStatus.SUCCEEDED)
    assert event.event_id == json.loads(body)["event_id"]


def test_the_signature_is_squares_documented_one() -> None:
    # base64(HMAC-SHA256(key, url + body)), checked against a value computed by hand.
    import base64
    import hashlib
    import hmac

    body = b'{"type":"payment.updated"}'
    by_hand = base64.b64encode(
        hmac.new(b"key", b"https://a.test/wh" + body, hashlib.sha256).digest()
    ).decode()
    assert sign(body, signature_key="key", notification_url="https://a.test/wh") == by_hand


@pytest.mark.parametrize(
    "tamper",
    ["body", "signature", "missing", "other-key", "wrong-url", "trailing-slash", "not-utf8"],
)
async def test_a_forged_webhook_is_refused(harness: SquareHarness, tamper: str) -> None:
    registration = await paid(harness)
    good_headers, body = harness.signed_webhook(registration, PaymentStatus.SUCCEEDED)
    headers = dict(good_headers)
    if tamper == "body":
        body = body.replace(b"COMPLETED", b"CANCELED")
    elif tamper == "signature":
        headers[SIGNATURE_HEADER] = headers[SIGNATURE_HEADER][:-4] + "AAA="
    elif tamper == "missing":
        del headers[SIGNATURE_HEADER]
    elif tamper == "other-key":
        headers[SIGNATURE_HEADER] = sign(body, signature_key="other", notification_url=WEBHOOK_URL)
    elif tamper == "wrong-url":
        headers[SIGNATURE_HEADER] = sign(
            body,
            signature_key=SIGNATURE_KEY,
            notification_url="https://evil.test/v1/webhooks/square",
        )
    elif tamper == "trailing-slash":
        headers[SIGNATURE_HEADER] = sign(
            body, signature_key=SIGNATURE_KEY, notification_url=WEBHOOK_URL + "/"
        )
    else:
        body = b"\xff" + body
        headers[SIGNATURE_HEADER] = sign(
            body, signature_key=SIGNATURE_KEY, notification_url=WEBHOOK_URL
        )
    with pytest.raises(WebhookVerificationError):
        harness.provider.parse_webhook(headers, body)


async def test_a_configured_notification_url_is_the_one_verified() -> None:
    config = SquareConfig(
        access_token="EAAA-x",
        location_id="L",
        webhook_signature_key="key",
        notification_url="https://public.example/hooks/square",
        base_url="http://127.0.0.1:9",
    )
    provider = SquareProvider(config, mode="sandbox", webhook_url="http://internal:8000/v1/x")
    try:
        body = json.dumps(spec_example("PaymentUpdatedEvent")).encode()
        public = sign(
            body, signature_key="key", notification_url="https://public.example/hooks/square"
        )
        internal = sign(body, signature_key="key", notification_url="http://internal:8000/v1/x")
        assert len(provider.parse_webhook({SIGNATURE_HEADER: public}, body)) == 1
        with pytest.raises(WebhookVerificationError):
            provider.parse_webhook({SIGNATURE_HEADER: internal}, body)
    finally:
        await provider.aclose()


async def test_square_has_no_stale_webhooks(harness: SquareHarness) -> None:
    # Square signs no timestamp: replays are stopped by paymux's event ids.
    registration = await paid(harness)
    assert harness.stale_webhook(registration, PaymentStatus.SUCCEEDED) is None


async def test_unreadable_bodies_are_refused(harness: SquareHarness) -> None:
    for body in (b"not json", b"{}", b'{"type": "payment.updated", "event_id": "e"}'):
        headers, _ = harness.sign({})
        headers[SIGNATURE_HEADER] = sign(
            body, signature_key=SIGNATURE_KEY, notification_url=WEBHOOK_URL
        )
        with pytest.raises(WebhookVerificationError):
            harness.provider.parse_webhook(headers, body)


# -- payments ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["payment.created", "payment.updated"])
@pytest.mark.parametrize("square_status", sorted(PAYMENT_STATUSES))
async def test_payment_events_map_to_the_order_token(
    harness: SquareHarness, kind: str, square_status: str
) -> None:
    registration = await paid(harness)
    payment = dict(next(iter(harness.fake.payments.values())))
    payment["status"] = square_status
    if square_status == "FAILED":
        payment["card_details"] = {"status": "FAILED", "errors": [{"code": "CVV_FAILURE"}]}
    event = harness.fake.event_envelope(kind, "payment", payment["id"], {"payment": payment})
    [parsed] = harness.provider.parse_webhook(*harness.sign(event))
    assert isinstance(parsed, ProviderEvent)
    assert parsed.token == registration.token
    assert parsed.status is PAYMENT_STATUSES[square_status]
    assert parsed.event_id == event["event_id"]
    assert parsed.failure_code == ("cvv-failure" if square_status == "FAILED" else None)
    assert parsed.occurred_at == datetime.fromisoformat(payment["updated_at"])


def test_squares_own_payment_example_maps() -> None:
    example = spec_example("PaymentUpdatedEvent")
    provider_events = _parse_signed(example)
    assert provider_events == [
        ProviderEvent(
            event_id="6a8f5f28-54a1-4eb0-a98a-3111513fd4fc",
            token="03O3USaPaAaFnI6kkwB1JxGgBsUZY",
            status=PaymentStatus.SUCCEEDED,
            occurred_at=datetime(2020, 11, 22, 21, 19, 0, 831000, tzinfo=UTC),
            psp_payment_id="hYy9pRFVxpDsO1FB05SunFWUe9JZY",
        )
    ]


async def test_the_fakes_own_payment_events_map(harness: SquareHarness) -> None:
    registration = await paid(harness)
    created, updated = (e for e in harness.fake.events if e["type"].startswith("payment."))
    assert (created["type"], updated["type"]) == ("payment.created", "payment.updated")
    assert created["data"]["id"] == updated["data"]["id"]
    [approved] = harness.provider.parse_webhook(*harness.sign(created))
    [completed] = harness.provider.parse_webhook(*harness.sign(updated))
    assert isinstance(approved, ProviderEvent)
    assert isinstance(completed, ProviderEvent)
    assert (approved.token, approved.status) == (registration.token, PaymentStatus.PENDING)
    assert (completed.token, completed.status) == (registration.token, PaymentStatus.SUCCEEDED)


async def test_a_declined_payment_is_reported_failed(harness: SquareHarness) -> None:
    await paid(harness, PaymentStatus.FAILED)
    [created] = [e for e in harness.fake.events if e["type"].startswith("payment.")]
    [event] = harness.provider.parse_webhook(*harness.sign(created))
    assert isinstance(event, ProviderEvent)
    assert (event.status, event.failure_code) == (PaymentStatus.FAILED, "generic-decline")


# -- refunds -------------------------------------------------------------------------------


@pytest.mark.parametrize("square_status", sorted(REFUND_STATUSES))
async def test_refund_updates_find_the_refund_by_squares_id(
    harness: SquareHarness, square_status: str
) -> None:
    registration = await paid(harness)
    result = await harness.provider.refund(
        RefundRequest(refund_id="ref_1", token=registration.token, amount=Money(100, "CAD")),
        idempotency_key=KEY,
    )
    harness.fake.settle_refund(str(result.psp_reference), square_status)
    created, updated = (e for e in harness.fake.events if e["type"].startswith("refund."))
    assert created["type"] == "refund.created"
    [first] = harness.provider.parse_webhook(*harness.sign(created))
    [second] = harness.provider.parse_webhook(*harness.sign(updated))
    assert isinstance(first, RefundEvent)
    assert isinstance(second, RefundEvent)
    assert (first.psp_reference, first.status) == (result.psp_reference, RefundStatus.PENDING)
    assert second.psp_reference == result.psp_reference
    assert second.status is REFUND_STATUSES[square_status]
    if second.status is RefundStatus.FAILED:
        assert second.failure_code == f"refund-{square_status.lower()}"
    else:
        assert second.failure_code is None
    assert second.refund_id is None
    assert first.event_id != second.event_id


def test_squares_own_refund_example_maps() -> None:
    [event] = _parse_signed(spec_example("RefundUpdatedEvent"))
    assert event == RefundEvent(
        event_id="bc316346-6691-4243-88ed-6d651a0d0c47",
        status=RefundStatus.SUCCEEDED,
        psp_reference="KkAkhdMsgzn59SM8A89WgKwekxLZY_ptNBVqHYxt5gAdfcobBe4u1AZsXhoz06KTtuq9Ls24P",
        occurred_at=datetime(2020, 2, 6, 22, 14, 16, 381000, tzinfo=UTC),
    )


# -- disputes ------------------------------------------------------------------------------


@pytest.mark.parametrize("state", sorted(DISPUTE_STATES))
async def test_dispute_events_map_each_state(harness: SquareHarness, state: str) -> None:
    await paid(harness)
    payment_id = next(iter(harness.fake.payments))
    opened = harness.fake.dispute(payment_id, "EVIDENCE_REQUIRED")
    harness.fake.dispute(payment_id, state, dispute_id=opened["id"])
    created, updated = (e for e in harness.fake.events if e["type"].startswith("dispute."))
    assert (created["type"], updated["type"]) == ("dispute.created", "dispute.state.updated")
    [first] = harness.provider.parse_webhook(*harness.sign(created))
    [second] = harness.provider.parse_webhook(*harness.sign(updated))
    assert isinstance(first, DisputeEvent)
    assert isinstance(second, DisputeEvent)
    assert first.status is DisputeStatus.OPENED
    assert second.status is DISPUTE_STATES[state]
    assert first.dispute_id == second.dispute_id == opened["id"]
    assert second.amount == Money(4200, "CAD")
    assert second.reason == "not-as-described"
    # The dispute names the payment, which the payment's own status events reported as
    # psp_payment_id: paymux finds the payment by it.
    assert second.token == payment_id
    status_events = [e for e in harness.fake.events if e["type"].startswith("payment.")]
    [reported] = harness.provider.parse_webhook(*harness.sign(status_events[-1]))
    assert isinstance(reported, ProviderEvent)
    assert reported.psp_payment_id == payment_id


@pytest.mark.parametrize(
    ("schema", "status"),
    [
        ("DisputeCreatedEvent", DisputeStatus.OPENED),
        ("DisputeStateUpdatedEvent", DisputeStatus.WON),
    ],
)
def test_squares_own_dispute_examples_map(schema: str, status: DisputeStatus) -> None:
    [event] = _parse_signed(spec_example(schema))
    assert isinstance(event, DisputeEvent)
    assert event.status is status
    assert event.dispute_id == "ORSEVtZAJxb37RA1EiGw"
    assert event.token == "fbmsaEOpoARDKxiSGH1fqPuqoqFZY"
    assert event.amount == Money(8801, "USD")
    assert event.reason == "amount-differs"


def test_the_spec_schema_shape_of_a_dispute_is_read_too() -> None:
    example = spec_example("DisputeCreatedEvent")
    example["data"]["object"] = {"object": example["data"]["object"]["dispute"]}
    [event] = _parse_signed(example)
    assert isinstance(event, DisputeEvent)


# -- others ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["order.updated", "payout.paid", "customer.created"])
def test_other_event_types_are_ignored(kind: str) -> None:
    event = {
        "type": kind,
        "event_id": "e1",
        "created_at": "2026-01-01T00:00:00Z",
        "data": {"object": {}},
    }
    assert _parse_signed(event) == []


async def test_an_unknown_status_is_refused_not_guessed(harness: SquareHarness) -> None:
    registration = await paid(harness)
    headers, body = harness.signed_webhook(registration, PaymentStatus.SUCCEEDED)
    body = body.replace(b'"COMPLETED"', b'"SOMETHING_NEW"')
    headers = {
        **headers,
        SIGNATURE_HEADER: sign(body, signature_key=SIGNATURE_KEY, notification_url=WEBHOOK_URL),
    }
    with pytest.raises(WebhookVerificationError, match="SOMETHING_NEW"):
        harness.provider.parse_webhook(headers, body)


def _parse_signed(event: dict[str, Any]) -> list[Any]:
    body = json.dumps(event).encode()
    signature = sign(body, signature_key="key", notification_url="https://paymux.test/wh")
    headers = {SIGNATURE_HEADER: signature}
    verify(headers, body, signature_key="key", notification_url="https://paymux.test/wh")
    return parse_events(body)
