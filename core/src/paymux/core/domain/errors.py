"""Errors of the payment domain and its use cases.

Each error has a stable ``code`` (a slug): the API turns it into the ``type`` of an
``application/problem+json`` answer, so clients can rely on it.
"""

from __future__ import annotations


class PaymuxError(Exception):
    """Base of every error paymux raises on purpose."""

    code: str = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidCheckoutError(PaymuxError):
    """A checkout that breaks a business rule (for example a fee above the order amount)."""

    code = "invalid-checkout"


class NoProviderError(PaymuxError):
    """No enabled provider serves this country, currency and payment method."""

    code = "no-provider"


class PaymentNotFoundError(PaymuxError):
    """No payment with that id is visible to this client."""

    code = "payment-not-found"


class IdempotencyKeyReusedError(PaymuxError):
    """The idempotency key was used before with a different request."""

    code = "idempotency-key-reused"


class IdempotencyKeyInUseError(PaymuxError):
    """A request with this idempotency key is still being processed."""

    code = "idempotency-key-in-use"


class ProviderOutcomeUnknownError(PaymuxError):
    """The provider could not be reached or did not answer in time; the outcome is unknown.

    Nothing is lost: the payment stays ``unknown`` and the same request, sent again with the
    same idempotency key, resumes it (the provider receives the same idempotency key too).
    """

    code = "provider-unavailable"

    def __init__(
        self,
        message: str,
        *,
        payment_id: str | None = None,
        retry_after_seconds: int = 1,
        **ids: str,
    ) -> None:
        super().__init__(message)
        self.payment_id = payment_id
        self.retry_after_seconds = retry_after_seconds
        self.ids = ({"payment_id": payment_id} if payment_id else {}) | ids
        """The ids of what stays pending (``payment_id``, ``refund_id``, ``payout_id``)."""


class UnknownProviderError(PaymuxError):
    """A webhook or call names a provider that is not enabled."""

    code = "unknown-provider"


class PaymentOrderNotFoundError(PaymuxError):
    """No payment order with that id is visible to this client."""

    code = "payment-order-not-found"


class OrderNotShippableError(PaymuxError):
    """Only a succeeded payment order can be shipped."""

    code = "order-not-succeeded"


class OrderAlreadyShippedError(PaymuxError):
    """The payment order's shipment was confirmed before."""

    code = "order-already-shipped"


class LedgerAccountNotFoundError(PaymuxError):
    """No ledger account or transaction with that id is visible to this client."""

    code = "ledger-not-found"


class RefundNotAllowedError(PaymuxError):
    """The refund asks for more than was paid and not yet refunded, or the order is not paid."""

    code = "refund-not-allowed"


class RefundsNotSupportedError(PaymuxError):
    """The payment's provider cannot refund."""

    code = "refunds-not-supported"


class RefundNotFoundError(PaymuxError):
    """No refund with that id is visible to this client."""

    code = "refund-not-found"


class OrderFullyRefundedError(PaymuxError):
    """Nothing is left to release: the order was refunded in full."""

    code = "order-fully-refunded"


class PayoutNotAllowedError(PaymuxError):
    """The payout asks for more than the seller's available balance, or for nothing."""

    code = "payout-not-allowed"


class PayoutsNotSupportedError(PaymuxError):
    """No enabled provider can pay out."""

    code = "payouts-not-supported"


class PayoutNotFoundError(PaymuxError):
    """No payout with that id is visible to this client."""

    code = "payout-not-found"


class ChargebackNotFoundError(PaymuxError):
    """No chargeback with that id (for this client)."""

    code = "chargeback-not-found"


class DisputeNotApplicableError(PaymuxError):
    """A provider reported a dispute paymux cannot apply (another currency, no amount)."""

    code = "dispute-not-applicable"


class ProviderReferenceUnknownError(PaymuxError):
    """A provider reported on a refund or payout paymux does not know (yet): it should retry."""

    code = "provider-reference-unknown"


class InvalidPayoutMethodError(PaymuxError):
    """A seller's payout method names a provider that is not enabled or cannot pay out."""

    code = "invalid-payout-method"


class FxRateUnavailableError(PaymuxError):
    """A conversion needs a quote and none can be locked: no rate source, no rate for the
    pair, or only a rate too old. Nothing was written. Raised for a payment whose provider
    settles in another currency and for a payout in another currency."""

    code = "fx-rate-unavailable"


class PayoutMethodNotFoundError(PaymuxError):
    """The seller has no payout method configured."""

    code = "payout-method-not-found"


class WebhookPaymentMismatchError(PaymuxError):
    """A webhook event's signed payment reference names another payment than its token."""

    code = "webhook-signature-invalid"
