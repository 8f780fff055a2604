"""Adyen's statuses mapped to paymux's, every value of the specs' enums listed explicitly."""

from __future__ import annotations

from types import MappingProxyType

from paymux.core.domain.payouts import PayoutStatus
from paymux.core.domain.status import PaymentStatus

PAYMENT_LINK_STATUSES: MappingProxyType[str, PaymentStatus] = MappingProxyType(
    {
        # Open: waiting for the buyer (a refused attempt leaves the link open).
        "active": PaymentStatus.PENDING,
        # A payment was submitted and its outcome is not final (for example a bank transfer).
        "paymentPending": PaymentStatus.PENDING,
        # The shopper paid; "paid" is the older name Adyen still lists.
        "completed": PaymentStatus.SUCCEEDED,
        "paid": PaymentStatus.SUCCEEDED,
        # Past expiresAt, or deactivated by the merchant, without a payment.
        "expired": PaymentStatus.EXPIRED,
    }
)
"""``PaymentLinkResponse.status`` (Checkout API v72) → paymux payment status."""

_P, _D, _F = PayoutStatus.PENDING, PayoutStatus.PAID, PayoutStatus.FAILED

TRANSFER_STATUSES: MappingProxyType[str, PayoutStatus] = MappingProxyType(
    {
        # Final, money on the counterparty's side.
        "booked": _D, "credited": _D,
        # Final failures: the payout is reversed in paymux.
        "failed": _F, "refused": _F, "returned": _F, "rejected": _F, "error": _F,
        "cancelled": _F, "expired": _F, "reversed": _F, "adviceRefused": _F,
        "authAdjustmentRefused": _F, "authAdjustmentError": _F,
        # Received, authorised or on the way: still pending.
        "received": _P, "authorised": _P, "pending": _P, "pendingApproval": _P,
        "approvalPending": _P, "pendingExecution": _P, "bookingPending": _P,
        "bankTransfer": _P, "bankTransferPending": _P, "internalTransfer": _P,
        "internalTransferPending": _P, "adviceAuthorised": _P, "authAdjustmentAuthorised": _P,
        "undefined": _P,
        # Statuses of other kinds of transfer (card, payment, dispute, fee, correction...).
        # A payout never takes them; should one appear it is no final word: pending.
        "atmWithdrawal": _P, "atmWithdrawalReversalPending": _P, "atmWithdrawalReversed": _P,
        "capturePending": _P, "captureReversalPending": _P, "captureReversed": _P,
        "captured": _P, "capturedExternally": _P, "chargeback": _P, "chargebackExternally": _P,
        "chargebackPending": _P, "chargebackReversalPending": _P, "chargebackReversed": _P,
        "depositCorrection": _P, "depositCorrectionPending": _P, "dispute": _P,
        "disputeClosed": _P, "disputeExpired": _P, "disputeNeedsReview": _P, "fee": _P,
        "feePending": _P, "interchangeAdjusted": _P, "invoiceDeduction": _P,
        "invoiceDeductionPending": _P, "manualCorrectionPending": _P, "manuallyCorrected": _P,
        "matchedStatement": _P, "matchedStatementPending": _P, "merchantPayin": _P,
        "merchantPayinPending": _P, "merchantPayinReversed": _P,
        "merchantPayinReversedPending": _P, "miscCost": _P, "miscCostPending": _P,
        "paymentCost": _P, "paymentCostPending": _P, "refundPending": _P,
        "refundReversalPending": _P, "refundReversed": _P, "refunded": _P,
        "refundedExternally": _P, "reserveAdjustment": _P, "reserveAdjustmentPending": _P,
        "secondChargeback": _P, "secondChargebackPending": _P,
    }
)  # fmt: skip
"""``Transfer.status`` (Transfers API v4 and transfer webhooks) → paymux payout status."""


def payment_status(link_status: str) -> PaymentStatus:
    """The paymux status of a payment link's status; ``unknown`` for a value Adyen adds."""
    return PAYMENT_LINK_STATUSES.get(link_status, PaymentStatus.UNKNOWN)


def payout_status(transfer_status: str) -> PayoutStatus:
    """The paymux status of a transfer's status; ``pending`` for a value Adyen adds."""
    return TRANSFER_STATUSES.get(transfer_status, PayoutStatus.PENDING)
