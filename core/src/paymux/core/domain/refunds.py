"""Refunds: money going back to the buyer, for one or more orders of a payment.

A refund's status: ``pending -> succeeded | failed``. Terminal states never change. While a
refund is pending its amount counts as refunded, so concurrent refunds can never exceed
what was paid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from paymux.currencies import Money


class RefundStatus(StrEnum):
    """Where a refund stands."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


def next_refund_status(current: RefundStatus, reported: RefundStatus) -> RefundStatus | None:
    """The refund's status after a report, or ``None`` when the report changes nothing."""
    if current is RefundStatus.PENDING and reported is not RefundStatus.PENDING:
        return reported
    return None


@dataclass(frozen=True, slots=True)
class RefundPart:
    """The share of a refund taken from one payment order."""

    payment_order_id: str
    amount: Money


@dataclass(frozen=True, slots=True)
class Refund:
    """A refund of a payment, split into parts per order."""

    id: str
    payment_event_id: str
    client_id: str
    amount: Money
    status: RefundStatus
    reason: str | None
    failure_code: str | None
    psp_idempotency_key: str
    psp_reference: str | None
    parts: tuple[RefundPart, ...]
    created_at: datetime
    updated_at: datetime
