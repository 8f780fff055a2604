"""Stripe's statuses, mapped exhaustively to paymux's.

A payment is a Checkout Session (the token) and, once the buyer confirms, its PaymentIntent.
The session says whether the buyer is still on the page (``open``), gave up (``expired``) or
finished (``complete``); ``payment_status`` and the PaymentIntent say whether money came.
"""

from __future__ import annotations

from paymux.core.domain.chargebacks import DisputeStatus
from paymux.core.domain.refunds import RefundStatus
from paymux.core.domain.status import PaymentStatus

SESSION_STATUSES = ("complete", "expired", "open")
"""``checkout.session.status`` in Stripe's spec (nullable)."""

SESSION_PAYMENT_STATUSES = ("no_payment_required", "paid", "unpaid")
"""``checkout.session.payment_status`` in Stripe's spec."""

PAYMENT_INTENT_STATUSES = (
    "canceled",
    "processing",
    "requires_action",
    "requires_capture",
    "requires_confirmation",
    "requires_payment_method",
    "succeeded",
)
"""``payment_intent.status`` in Stripe's spec."""

REFUND_STATUSES = ("pending", "requires_action", "succeeded", "failed", "canceled")
"""``refund.status`` as Stripe documents it (the spec gives a bare string)."""

DISPUTE_STATUSES = (
    "lost",
    "needs_response",
    "under_review",
    "warning_closed",
    "warning_needs_response",
    "warning_under_review",
    "won",
)
"""``dispute.status`` in Stripe's spec."""

_PI_AFTER_COMPLETE = {
    "succeeded": PaymentStatus.SUCCEEDED,
    "processing": PaymentStatus.PENDING,
    "requires_action": PaymentStatus.PENDING,
    "requires_capture": PaymentStatus.PENDING,
    "requires_confirmation": PaymentStatus.PENDING,
    # The session is complete, so the buyer cannot try again: the (async) payment failed.
    "requires_payment_method": PaymentStatus.FAILED,
    "canceled": PaymentStatus.CANCELED,
}


def payment_status(
    session_status: str | None,
    session_payment_status: str,
    intent_status: str | None,
) -> PaymentStatus:
    """paymux's status of a Checkout Session and its PaymentIntent (``None``: none yet).

    * a PaymentIntent that ``succeeded`` means the money was taken: ``succeeded``;
    * ``expired`` session: ``expired``;
    * ``open`` session: ``pending`` whatever the PaymentIntent says, since Checkout lets the
      buyer try again after a decline;
    * ``complete`` session: ``paid`` is ``succeeded``; ``no_payment_required`` is ``failed``
      (paymux always charges, so no money arrived); ``unpaid`` follows the PaymentIntent
      (``processing`` etc. ``pending``, ``requires_payment_method`` ``failed``, ``canceled``
      ``canceled``; no PaymentIntent yet: ``pending``).

    Raises ``ValueError`` for a value outside Stripe's enums.
    """
    if session_status not in (*SESSION_STATUSES, None):
        raise ValueError(f"unknown Checkout Session status {session_status!r}")
    if session_payment_status not in SESSION_PAYMENT_STATUSES:
        raise ValueError(f"unknown Checkout Session payment_status {session_payment_status!r}")
    if intent_status is not None and intent_status not in PAYMENT_INTENT_STATUSES:
        raise ValueError(f"unknown PaymentIntent status {intent_status!r}")
    if intent_status == "succeeded" or session_payment_status == "paid":
        return PaymentStatus.SUCCEEDED
    if session_status == "expired":
        return PaymentStatus.EXPIRED
    if session_status != "complete":
        return PaymentStatus.PENDING
    if session_payment_status == "no_payment_required":
        return PaymentStatus.FAILED
    if intent_status is None:
        return PaymentStatus.PENDING
    return _PI_AFTER_COMPLETE[intent_status]


def refund_status(status: str | None) -> RefundStatus:
    """paymux's status of a Stripe refund; ``ValueError`` for an unknown one."""
    match status:
        case "succeeded":
            return RefundStatus.SUCCEEDED
        case "pending" | "requires_action" | None:
            return RefundStatus.PENDING
        case "failed" | "canceled":
            return RefundStatus.FAILED
    raise ValueError(f"unknown refund status {status!r}")


def dispute_status(status: str) -> DisputeStatus:
    """paymux's status of a Stripe dispute.

    ``won`` and ``warning_closed`` (an inquiry closed without a chargeback) give the money
    back: ``won``; ``lost`` is ``lost``; every other status is still open.
    """
    match status:
        case "won" | "warning_closed":
            return DisputeStatus.WON
        case "lost":
            return DisputeStatus.LOST
        case (
            "needs_response" | "under_review" | "warning_needs_response" | ("warning_under_review")
        ):
            return DisputeStatus.OPENED
    raise ValueError(f"unknown dispute status {status!r}")
