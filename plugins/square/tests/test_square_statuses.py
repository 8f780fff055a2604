"""Every status Square documents maps to paymux's; unknown ones are refused, not guessed."""

from __future__ import annotations

import itertools
import json
import re
from functools import cache
from typing import Any

import pytest

from paymux.core.domain.chargebacks import DisputeStatus
from paymux.core.domain.refunds import RefundStatus
from paymux.core.domain.status import PaymentStatus
from paymux_square.spec_validation import find_spec
from paymux_square.statuses import (
    DISPUTE_STATES,
    ORDER_STATES,
    PAYMENT_STATUSES,
    REFUND_STATUSES,
    UnknownSquareStatusError,
    checkout_status,
    dispute_status,
    order_state,
    payment_status,
    refund_status,
)


@cache
def schemas() -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(find_spec().read_text(encoding="utf-8"))
    return dict(spec["components"]["schemas"])


def documented(description: str) -> set[str]:
    """Upper-case words of a description (Square lists some statuses only in prose)."""
    return set(re.findall(r"\b[A-Z][A-Z_]{3,}\b", description))


def test_every_payment_status_of_the_spec_is_mapped() -> None:
    values = documented(schemas()["Payment"]["properties"]["status"]["description"])
    assert values == {"APPROVED", "PENDING", "COMPLETED", "CANCELED", "FAILED"}
    assert set(PAYMENT_STATUSES) == values


def test_every_order_state_of_the_spec_is_mapped() -> None:
    assert set(ORDER_STATES) == set(schemas()["OrderState"]["enum"])


def test_every_refund_status_of_the_spec_is_mapped() -> None:
    from_prose = documented(schemas()["PaymentRefund"]["properties"]["status"]["description"])
    from_enum = set(schemas()["RefundStatus"]["enum"])
    assert set(REFUND_STATUSES) == from_prose | from_enum


def test_every_dispute_state_of_the_spec_is_mapped() -> None:
    assert set(DISPUTE_STATES) == set(schemas()["DisputeState"]["enum"])


@pytest.mark.parametrize(
    ("square", "paymux"),
    [
        ("APPROVED", PaymentStatus.PENDING),
        ("PENDING", PaymentStatus.PENDING),
        ("COMPLETED", PaymentStatus.SUCCEEDED),
        ("CANCELED", PaymentStatus.CANCELED),
        ("FAILED", PaymentStatus.FAILED),
    ],
)
def test_payment_statuses(square: str, paymux: PaymentStatus) -> None:
    assert payment_status(square) is paymux


@pytest.mark.parametrize(
    ("square", "paymux"),
    [
        ("PENDING", RefundStatus.PENDING),
        ("APPROVED", RefundStatus.PENDING),
        ("COMPLETED", RefundStatus.SUCCEEDED),
        ("REJECTED", RefundStatus.FAILED),
        ("FAILED", RefundStatus.FAILED),
    ],
)
def test_refund_statuses(square: str, paymux: RefundStatus) -> None:
    assert refund_status(square) is paymux


@pytest.mark.parametrize(
    ("square", "paymux"),
    [
        ("INQUIRY_EVIDENCE_REQUIRED", DisputeStatus.OPENED),
        ("INQUIRY_PROCESSING", DisputeStatus.OPENED),
        ("INQUIRY_CLOSED", DisputeStatus.WON),
        ("EVIDENCE_REQUIRED", DisputeStatus.OPENED),
        ("PROCESSING", DisputeStatus.OPENED),
        ("WON", DisputeStatus.WON),
        ("LOST", DisputeStatus.LOST),
        ("ACCEPTED", DisputeStatus.LOST),
    ],
)
def test_dispute_states(square: str, paymux: DisputeStatus) -> None:
    assert dispute_status(square) is paymux


@pytest.mark.parametrize("mapper", [payment_status, order_state, refund_status, dispute_status])
def test_an_unknown_status_is_refused(mapper: Any) -> None:
    with pytest.raises(UnknownSquareStatusError):
        mapper("SOMETHING_NEW")


def expected(state: str, payments: tuple[str, ...]) -> PaymentStatus:
    """The rule, written out independently of the implementation."""
    if state == "COMPLETED" or "COMPLETED" in payments:
        return PaymentStatus.SUCCEEDED
    if state == "CANCELED":
        return PaymentStatus.CANCELED
    if {"APPROVED", "PENDING"} & set(payments):
        return PaymentStatus.PENDING
    if "FAILED" in payments:
        return PaymentStatus.FAILED
    if "CANCELED" in payments:
        return PaymentStatus.CANCELED
    return PaymentStatus.PENDING


@pytest.mark.parametrize("state", sorted(ORDER_STATES))
def test_checkout_status_covers_every_order_state_and_payment_mix(state: str) -> None:
    for count in range(3):
        for payments in itertools.product(sorted(PAYMENT_STATUSES), repeat=count):
            assert checkout_status(state, payments) is expected(state, payments), (state, payments)


def test_a_paid_order_after_a_declined_attempt_is_succeeded() -> None:
    assert checkout_status("COMPLETED", ["FAILED", "COMPLETED"]) is PaymentStatus.SUCCEEDED
    assert checkout_status("OPEN", ["FAILED"]) is PaymentStatus.FAILED
    assert checkout_status("OPEN", []) is PaymentStatus.PENDING
    assert checkout_status("DRAFT", []) is PaymentStatus.PENDING
