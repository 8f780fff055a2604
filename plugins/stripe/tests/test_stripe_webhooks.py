"""Stripe webhooks: verified with the SDK's signature check, mapped per event type."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from paymux.core.domain.chargebacks import DisputeStatus
from paymux.core.domain.payouts import PayoutStatus
from paymux.core.domain.refunds import RefundStatus
from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import (
    CheckoutRegistration,
    CheckoutRequest,
    DisputeEvent,
    PayoutEvent,
    ProviderEvent,
    RefundEvent,
    WebhookVerificationError,
)
from paymux.currencies import Money
from paymux_stripe.harness import StripeHarness, find_specs_dir

EUR_25 = Money(2500, "EUR")
SPECS = find_specs_dir(Path(__file__).parent)


@pytest.fixture
async def harness() -> AsyncIterator[StripeHarness]:
    started = StripeHarness.start(specs_dir=SPECS, require_spec=True)
    yield started
    await started.aclose()


async def register(harness: StripeHarness, amount: Money = EUR_25) -> CheckoutRegistration:
    request = CheckoutRequest(
        payment_id="pay_001",
        amount=amount,
        country="DE",
        payment_method="card",
        buyer_id="buyer-7",
        order_references=("order-1",),
        return_url="https://paymux.example/status/pay_001",
    )
    return await harness.provider.register_checkout(request, idempotency_key="key-1")


def parse(harness: StripeHarness, event: dict[str, Any]) -> list[Any]:
    headers, body = harness.fake.signed(event)
    return list(harness.provider.parse_webhook(headers, body))


async def test_a_genuine_webhook_verifies_and_maps(harness: StripeHarness) -> None:
    registration = await register(harness)
    headers, body = harness.signed_webhook(registration, PaymentStatus.SUCCEEDED)

    (event,) = harness.provider.parse_webhook(headers, body)

    assert isinstance(event, ProviderEvent)
    assert event.token == registration.token
    assert event.status is PaymentStatus.SUCCEEDED
    assert event.event_id == json.loads(body)["id"]
    assert event.occurred_at is not None


async def test_a_forged_signature_is_refused(harness: StripeHarness) -> None:
    registration = await register(harness)
    headers, body = harness.signed_webhook(registration, PaymentStatus.SUCCEEDED)
    forged = body.replace(b'"paid"', b'"unpaid"')
    with pytest.raises(WebhookVerificationError):
        harness.provider.parse_webhook(headers, forged)
    other_secret = {"stripe-signature": headers["stripe-signature"].replace("v1=", "v1=00")}
    with pytest.raises(WebhookVerificationError):
        harness.provider.parse_webhook(other_secret, body)
    with pytest.raises(WebhookVerificationError):
        harness.provider.parse_webhook({}, body)
    with pytest.raises(WebhookVerificationError):
        harness.provider.parse_webhook({"stripe-signature": "garbage"}, body)


async def test_a_stale_timestamp_is_refused(harness: StripeHarness) -> None:
    registration = await register(harness)
    stale = harness.stale_webhook(registration, PaymentStatus.SUCCEEDED)
    assert stale is not None
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        harness.provider.parse_webhook(*stale)


async def test_a_replayed_event_keeps_its_id(harness: StripeHarness) -> None:
    registration = await register(harness)
    headers, body = harness.signed_webhook(registration, PaymentStatus.SUCCEEDED)
    first = harness.provider.parse_webhook(headers, body)
    # Stripe redelivers the same event, signed again later.
    resigned = {
        "stripe-signature": harness.fake.sign(body.decode(), timestamp=int(time.time()) + 5)
    }
    again = harness.provider.parse_webhook(resigned, body)
    assert first == again
    fresh = harness.signed_webhook(registration, PaymentStatus.SUCCEEDED)
    assert harness.provider.parse_webhook(*fresh)[0].event_id != first[0].event_id


async def test_an_unreadable_body_is_refused(harness: StripeHarness) -> None:
    for body in (b"not json", b'{"object": "list"}', b"\xff\xfe"):
        headers = {"stripe-signature": harness.fake.sign(body.decode(errors="replace"))}
        with pytest.raises(WebhookVerificationError):
            harness.provider.parse_webhook(headers, body)


@pytest.mark.parametrize(
    ("outcome", "kind"),
    [
        (PaymentStatus.SUCCEEDED, "checkout.session.completed"),
        (PaymentStatus.PENDING, "checkout.session.completed"),
        (PaymentStatus.FAILED, "checkout.session.async_payment_failed"),
        (PaymentStatus.EXPIRED, "checkout.session.expired"),
    ],
)
async def test_the_events_the_fake_sends_map_to_the_outcome(
    harness: StripeHarness, outcome: PaymentStatus, kind: str
) -> None:
    registration = await register(harness)
    await harness.complete_checkout(registration, outcome)
    sent = harness.fake.events[-1]
    assert sent["type"] == kind

    (event,) = parse(harness, sent)

    assert isinstance(event, ProviderEvent)
    assert (event.token, event.status) == (registration.token, outcome)


async def test_async_payment_succeeded_maps_to_succeeded(harness: StripeHarness) -> None:
    registration = await register(harness)
    await harness.complete_checkout(registration, PaymentStatus.PENDING)
    session = dict(harness.fake.sessions[registration.token], payment_status="paid")
    (event,) = parse(
        harness, harness.fake.event("checkout.session.async_payment_succeeded", session)
    )
    assert isinstance(event, ProviderEvent)
    assert event.status is PaymentStatus.SUCCEEDED


async def test_completed_without_payment_fails(harness: StripeHarness) -> None:
    registration = await register(harness)
    session = dict(
        harness.fake.sessions[registration.token],
        status="complete",
        payment_status="no_payment_required",
    )
    (event,) = parse(harness, harness.fake.event("checkout.session.completed", session))
    assert isinstance(event, ProviderEvent)
    assert (event.status, event.failure_code) == (PaymentStatus.FAILED, "no-payment-collected")


@pytest.mark.parametrize(
    "kind",
    ["payment_intent.succeeded", "payment_intent.processing", "payment_intent.payment_failed"],
)
async def test_payment_intent_events_are_not_used(harness: StripeHarness, kind: str) -> None:
    registration = await register(harness)
    await harness.complete_checkout(registration, PaymentStatus.SUCCEEDED)
    intent = next(iter(harness.fake.intents.values()))
    assert parse(harness, harness.fake.event(kind, intent)) == []


@pytest.mark.parametrize("kind", ["payout.paid", "payout.failed", "customer.created"])
async def test_other_events_are_not_used(harness: StripeHarness, kind: str) -> None:
    assert parse(harness, harness.fake.event(kind, {"id": "po_1", "object": "payout"})) == []


def dispute(status: str, *, amount: int = 12340, currency: str = "kwd") -> dict[str, Any]:
    return {
        "id": "dp_123",
        "object": "dispute",
        "amount": amount,
        "currency": currency,
        "charge": "ch_1",
        "payment_intent": "pi_1",
        "reason": "fraudulent",
        "status": status,
        "metadata": {},
    }


@pytest.mark.parametrize(
    ("kind", "status", "expected"),
    [
        ("charge.dispute.created", "needs_response", DisputeStatus.OPENED),
        ("charge.dispute.created", "warning_needs_response", DisputeStatus.OPENED),
        ("charge.dispute.updated", "under_review", DisputeStatus.OPENED),
        ("charge.dispute.closed", "won", DisputeStatus.WON),
        ("charge.dispute.closed", "warning_closed", DisputeStatus.WON),
        ("charge.dispute.closed", "lost", DisputeStatus.LOST),
    ],
)
async def test_disputes_map_by_status(
    harness: StripeHarness, kind: str, status: str, expected: DisputeStatus
) -> None:
    event = harness.fake.event(kind, dispute(status))
    (mapped,) = parse(harness, event)
    assert isinstance(mapped, DisputeEvent)
    assert mapped.status is expected
    assert mapped.dispute_id == "dp_123"
    assert mapped.event_id == event["id"]
    assert mapped.token == "pi_1"
    assert mapped.amount == Money(12340, "KWD")
    assert mapped.reason == "fraudulent"


async def test_dispute_amounts_are_currency_decoded(harness: StripeHarness) -> None:
    (jpy,) = parse(
        harness,
        harness.fake.event(
            "charge.dispute.created", dispute("needs_response", amount=1500, currency="jpy")
        ),
    )
    (isk,) = parse(
        harness,
        harness.fake.event(
            "charge.dispute.created", dispute("needs_response", amount=700, currency="isk")
        ),
    )
    assert isinstance(jpy, DisputeEvent)
    assert isinstance(isk, DisputeEvent)
    assert (jpy.amount, isk.amount) == (Money(1500, "JPY"), Money(7, "ISK"))


async def test_a_closed_dispute_still_open_is_unreadable(harness: StripeHarness) -> None:
    with pytest.raises(WebhookVerificationError):
        parse(harness, harness.fake.event("charge.dispute.closed", dispute("under_review")))


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("succeeded", RefundStatus.SUCCEEDED),
        ("pending", RefundStatus.PENDING),
        ("failed", RefundStatus.FAILED),
    ],
)
async def test_refund_events_map_by_metadata(
    harness: StripeHarness, status: str, expected: RefundStatus
) -> None:
    refund = {
        "id": "re_1",
        "object": "refund",
        "amount": 500,
        "currency": "eur",
        "status": status,
        "failure_reason": "expired_or_canceled_card" if status == "failed" else None,
        "metadata": {"paymux_refund_id": "rf_9"},
    }
    event = harness.fake.event("charge.refund.updated", refund)
    (mapped,) = parse(harness, event)
    assert isinstance(mapped, RefundEvent)
    assert (mapped.refund_id, mapped.psp_reference, mapped.status) == ("rf_9", "re_1", expected)
    assert mapped.failure_code == ("expired-or-canceled-card" if status == "failed" else None)


async def test_transfer_events_map_to_payouts(harness: StripeHarness) -> None:
    transfer = {
        "id": "tr_1",
        "object": "transfer",
        "amount": 1000,
        "amount_reversed": 0,
        "currency": "eur",
        "metadata": {"paymux_payout_id": "po_7"},
        "reversed": False,
    }
    (paid,) = parse(harness, harness.fake.event("transfer.created", transfer))
    assert isinstance(paid, PayoutEvent)
    assert (paid.payout_id, paid.psp_reference, paid.status) == ("po_7", "tr_1", PayoutStatus.PAID)

    partly = dict(transfer, amount_reversed=400)
    assert parse(harness, harness.fake.event("transfer.reversed", partly)) == []
    whole = dict(transfer, amount_reversed=1000, reversed=True)
    (failed,) = parse(harness, harness.fake.event("transfer.reversed", whole))
    assert isinstance(failed, PayoutEvent)
    assert (failed.status, failed.failure_code) == (PayoutStatus.FAILED, "transfer-reversed")


async def test_tolerance_is_configurable() -> None:
    short = StripeHarness.start(specs_dir=SPECS, webhook_tolerance_seconds=5)
    try:
        registration = await register(short)
        event = short.fake.event(
            "checkout.session.expired", short.fake.sessions[registration.token]
        )
        ten_seconds_ago = int(time.time()) - 10
        with pytest.raises(WebhookVerificationError):
            short.provider.parse_webhook(*short.fake.signed(event, timestamp=ten_seconds_ago))
    finally:
        await short.aclose()


async def test_sessions_paymux_did_not_create_are_ignored(harness: StripeHarness) -> None:
    registration = await register(harness)
    session = dict(harness.fake.sessions[registration.token], metadata={}, payment_status="paid")
    assert parse(harness, harness.fake.event("checkout.session.completed", session)) == []
