"""Square's statuses, mapped exhaustively to paymux's.

Every value Square documents for a payment, an order, a refund and a dispute has an entry;
an unknown value is an error (:class:`UnknownSquareStatusError`), never a silent guess.
"""

from __future__ import annotations

from collections.abc import Iterable

from paymux.core.domain.chargebacks import DisputeStatus
from paymux.core.domain.refunds import RefundStatus
from paymux.core.domain.status import PaymentStatus


class UnknownSquareStatusError(ValueError):
    """Square reported a status this plugin does not know."""


PAYMENT_STATUSES: dict[str, PaymentStatus] = {
    "APPROVED": PaymentStatus.PENDING,  # authorized, not captured yet
    "PENDING": PaymentStatus.PENDING,
    "COMPLETED": PaymentStatus.SUCCEEDED,
    "CANCELED": PaymentStatus.CANCELED,  # the authorization was voided
    "FAILED": PaymentStatus.FAILED,
}
"""``Payment.status``: APPROVED, PENDING, COMPLETED, CANCELED or FAILED."""

ORDER_STATES: dict[str, PaymentStatus] = {
    "DRAFT": PaymentStatus.PENDING,
    "OPEN": PaymentStatus.PENDING,
    "COMPLETED": PaymentStatus.SUCCEEDED,
    "CANCELED": PaymentStatus.CANCELED,
}
"""``Order.state`` (spec enum ``OrderState``), read when no payment decides."""

REFUND_STATUSES: dict[str, RefundStatus] = {
    "PENDING": RefundStatus.PENDING,
    "APPROVED": RefundStatus.PENDING,  # in the spec's RefundStatus enum: approved, not done
    "COMPLETED": RefundStatus.SUCCEEDED,
    "REJECTED": RefundStatus.FAILED,
    "FAILED": RefundStatus.FAILED,
}
"""``PaymentRefund.status``: PENDING, COMPLETED, REJECTED, FAILED (the spec adds APPROVED)."""

DISPUTE_STATES: dict[str, DisputeStatus] = {
    "INQUIRY_EVIDENCE_REQUIRED": DisputeStatus.OPENED,
    "INQUIRY_PROCESSING": DisputeStatus.OPENED,
    "INQUIRY_CLOSED": DisputeStatus.WON,  # the inquiry ended without a chargeback
    "EVIDENCE_REQUIRED": DisputeStatus.OPENED,
    "PROCESSING": DisputeStatus.OPENED,
    "WON": DisputeStatus.WON,
    "LOST": DisputeStatus.LOST,
    "ACCEPTED": DisputeStatus.LOST,  # the seller accepted the dispute
}
"""``Dispute.state`` (spec enum ``DisputeState``)."""


def payment_status(square_status: str) -> PaymentStatus:
    """paymux's status for a Square ``Payment.status``."""
    try:
        return PAYMENT_STATUSES[square_status]
    except KeyError:
        raise UnknownSquareStatusError(f"unknown Square payment status {square_status!r}") from None


def order_state(square_state: str) -> PaymentStatus:
    """paymux's status for an order in ``square_state`` with no deciding payment."""
    try:
        return ORDER_STATES[square_state]
    except KeyError:
        raise UnknownSquareStatusError(f"unknown Square order state {square_state!r}") from None


def refund_status(square_status: str) -> RefundStatus:
    """paymux's refund status for a Square ``PaymentRefund.status``."""
    try:
        return REFUND_STATUSES[square_status]
    except KeyError:
        raise UnknownSquareStatusError(f"unknown Square refund status {square_status!r}") from None


def dispute_status(square_state: str) -> DisputeStatus:
    """paymux's chargeback status for a Square ``Dispute.state``."""
    try:
        return DISPUTE_STATES[square_state]
    except KeyError:
        raise UnknownSquareStatusError(f"unknown Square dispute state {square_state!r}") from None


_PRECEDENCE = (
    PaymentStatus.SUCCEEDED,
    PaymentStatus.PENDING,
    PaymentStatus.FAILED,
    PaymentStatus.CANCELED,
)


def checkout_status(state: str, payment_statuses: Iterable[str]) -> PaymentStatus:
    """The status of a payment-link checkout from its order's state and its payments.

    A completed payment (or a completed order) means the buyer paid. Otherwise a canceled
    order is canceled; otherwise the payments decide, a live one (approved or pending) before
    a failed one, a failed one before a voided one. An open order without payments is pending.
    """
    from_order = order_state(state)
    from_payments = {payment_status(status) for status in payment_statuses}
    if from_order is PaymentStatus.SUCCEEDED or PaymentStatus.SUCCEEDED in from_payments:
        return PaymentStatus.SUCCEEDED
    if from_order is PaymentStatus.CANCELED:
        return PaymentStatus.CANCELED
    for status in _PRECEDENCE:
        if status in from_payments:
            return status
    return from_order
