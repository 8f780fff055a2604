"""Every Stripe status in the spec's enums maps to a paymux status."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from paymux.core.domain.chargebacks import DisputeStatus
from paymux.core.domain.refunds import RefundStatus
from paymux.core.domain.status import PaymentStatus
from paymux_stripe.harness import find_specs_dir
from paymux_stripe.spec_validation import StripeSpec, load_spec
from paymux_stripe.statuses import (
    DISPUTE_STATUSES,
    PAYMENT_INTENT_STATUSES,
    REFUND_STATUSES,
    SESSION_PAYMENT_STATUSES,
    SESSION_STATUSES,
    dispute_status,
    payment_status,
    refund_status,
)


@pytest.fixture(scope="module")
def spec() -> StripeSpec:
    folder = find_specs_dir(Path(__file__).parent)
    assert folder is not None, "Stripe's spec3.yaml is needed (PAYMUX_STRIPE_SPECS)"
    return load_spec(folder / "spec3.yaml")


def enum(spec: StripeSpec, schema: str, prop: str) -> tuple[str, ...]:
    definition: dict[str, Any] = spec.schemas[schema]["properties"][prop]
    return tuple(definition["enum"])


def test_our_enums_are_the_specs(spec: StripeSpec) -> None:
    assert set(enum(spec, "checkout.session", "status")) == set(SESSION_STATUSES)
    assert set(enum(spec, "checkout.session", "payment_status")) == set(SESSION_PAYMENT_STATUSES)
    assert set(enum(spec, "payment_intent", "status")) == set(PAYMENT_INTENT_STATUSES)
    assert set(enum(spec, "dispute", "status")) == set(DISPUTE_STATUSES)


def test_every_combination_of_the_specs_enums_maps(spec: StripeSpec) -> None:
    sessions = (*enum(spec, "checkout.session", "status"), None)
    payments = enum(spec, "checkout.session", "payment_status")
    intents = (*enum(spec, "payment_intent", "status"), None)
    for session, paid, intent in itertools.product(sessions, payments, intents):
        assert isinstance(payment_status(session, paid, intent), PaymentStatus)


@pytest.mark.parametrize(
    ("session", "paid", "intent", "expected"),
    [
        ("open", "unpaid", None, PaymentStatus.PENDING),
        ("open", "unpaid", "requires_payment_method", PaymentStatus.PENDING),
        ("open", "unpaid", "succeeded", PaymentStatus.SUCCEEDED),
        ("complete", "paid", "succeeded", PaymentStatus.SUCCEEDED),
        ("complete", "paid", None, PaymentStatus.SUCCEEDED),
        ("complete", "unpaid", "processing", PaymentStatus.PENDING),
        ("complete", "unpaid", "requires_action", PaymentStatus.PENDING),
        ("complete", "unpaid", "requires_payment_method", PaymentStatus.FAILED),
        ("complete", "unpaid", "canceled", PaymentStatus.CANCELED),
        ("complete", "unpaid", None, PaymentStatus.PENDING),
        ("complete", "no_payment_required", None, PaymentStatus.FAILED),
        ("expired", "unpaid", None, PaymentStatus.EXPIRED),
        ("expired", "unpaid", "requires_payment_method", PaymentStatus.EXPIRED),
        (None, "unpaid", None, PaymentStatus.PENDING),
    ],
)
def test_payment_status(
    session: str | None, paid: str, intent: str | None, expected: PaymentStatus
) -> None:
    assert payment_status(session, paid, intent) is expected


def test_values_outside_the_enums_are_errors() -> None:
    with pytest.raises(ValueError, match="status"):
        payment_status("weird", "paid", None)
    with pytest.raises(ValueError, match="payment_status"):
        payment_status("open", "weird", None)
    with pytest.raises(ValueError, match="PaymentIntent"):
        payment_status("open", "unpaid", "weird")
    with pytest.raises(ValueError, match="refund"):
        refund_status("weird")
    with pytest.raises(ValueError, match="dispute"):
        dispute_status("weird")


def test_every_refund_status_maps() -> None:
    mapped = {status: refund_status(status) for status in REFUND_STATUSES}
    assert mapped == {
        "pending": RefundStatus.PENDING,
        "requires_action": RefundStatus.PENDING,
        "succeeded": RefundStatus.SUCCEEDED,
        "failed": RefundStatus.FAILED,
        "canceled": RefundStatus.FAILED,
    }


def test_every_dispute_status_maps(spec: StripeSpec) -> None:
    mapped = {status: dispute_status(status) for status in enum(spec, "dispute", "status")}
    assert mapped == {
        "lost": DisputeStatus.LOST,
        "needs_response": DisputeStatus.OPENED,
        "under_review": DisputeStatus.OPENED,
        "warning_closed": DisputeStatus.WON,
        "warning_needs_response": DisputeStatus.OPENED,
        "warning_under_review": DisputeStatus.OPENED,
        "won": DisputeStatus.WON,
    }
