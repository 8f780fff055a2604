"""The payment provider port: what a PSP plugin implements.

A provider object is built once per application by the factory a plugin registers through the
``paymux_add_providers`` hook. Its methods are called by paymux's use cases, never inside a
database transaction, and may be called concurrently from many requests.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Protocol, runtime_checkable

from paymux.core.domain.chargebacks import DisputeStatus
from paymux.core.domain.payouts import PayoutDestination as PayoutDestination  # for plugins
from paymux.core.domain.payouts import PayoutStatus
from paymux.core.domain.refunds import RefundStatus
from paymux.core.domain.status import PaymentStatus
from paymux.currencies import Money


class ProviderError(Exception):
    """A provider call failed.

    ``retryable`` says whether the same call may succeed later. ``outcome_unknown`` says the
    provider may have acted even though no answer arrived (a timeout is never a failure).
    """

    retryable: bool = False
    outcome_unknown: bool = False
    retry_after_seconds: float | None = None
    """When the provider said to come back (a 429's or 503's ``Retry-After``), if it did."""


class ProviderTimeoutError(ProviderError):
    """No answer in time: the provider may or may not have acted. Retryable."""

    retryable = True
    outcome_unknown = True


class ProviderUnavailableError(ProviderError):
    """Connection refused, reset, or a 5xx from the provider. Retryable; outcome unknown."""

    retryable = True
    outcome_unknown = True

    def __init__(self, message: str, *, retry_after_seconds: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class ProviderRateLimitedError(ProviderError):
    """The provider refused to act now (a 429): nothing was done. Retryable, best after
    ``retry_after_seconds`` when the provider said so."""

    retryable = True
    outcome_unknown = False

    def __init__(self, message: str, *, retry_after_seconds: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from an HTTP ``Retry-After`` value: delay seconds (``"7"``) or an
    HTTP date (``"Wed, 25 Nov 2026 12:00:07 GMT"``, counted from ``now``); ``None`` when
    absent or unreadable. Never negative."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class ProviderRejectedError(ProviderError):
    """The provider refused the request for good (a 4xx). Not retryable.

    ``code`` is the provider's reason, normalized to a slug where possible.
    """

    def __init__(self, message: str, *, code: str = "provider-rejected") -> None:
        super().__init__(message)
        self.code = code


class WebhookVerificationError(Exception):
    """A webhook's signature, timestamp or body did not verify; it must change nothing."""


@dataclass(frozen=True, slots=True)
class ProviderCapabilities:
    """What a provider can do.

    ``countries``: ISO 3166 alpha-2 codes, ``None`` meaning every country. ``currencies``:
    the active ISO 4217 codes the provider supports, listed explicitly (paymux refuses a
    provider whose list is ``None`` or empty, or holds any other code, when it builds it:
    :func:`paymux.core.providers.capability_problems`); ``None`` is still read as "all" by
    :meth:`serves` for objects built by hand.
    """

    methods: frozenset[str]
    countries: frozenset[str] | None = None
    currencies: frozenset[str] | None = None
    features: frozenset[str] = field(default_factory=frozenset)

    def serves(self, *, country: str, currency: str, method: str) -> bool:
        """Whether a checkout with this country, currency and method can go here."""
        return (
            method in self.methods
            and (self.countries is None or country in self.countries)
            and (self.currencies is None or currency in self.currencies)
        )


@dataclass(frozen=True, slots=True)
class CheckoutRequest:
    """What a provider needs to register a hosted checkout."""

    payment_id: str
    amount: Money
    country: str
    payment_method: str
    buyer_id: str
    order_references: tuple[str, ...]
    return_url: str
    """Where the provider sends the buyer when the hosted page is done."""


@dataclass(frozen=True, slots=True)
class CheckoutRegistration:
    """The provider's answer to a registration: its token and the hosted page's URL."""

    token: str
    redirect_url: str
    psp_reference: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderPaymentState:
    """The provider's view of one payment, normalized to paymux's statuses."""

    token: str
    status: PaymentStatus
    failure_code: str | None = None
    occurred_at: datetime | None = None
    psp_payment_id: str | None = None
    """The PSP's id of the payment itself when it is not the token (a Stripe PaymentIntent,
    a Square payment): later events that name only it, such as disputes, find the payment."""


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """One verified webhook event on a payment's status, normalized.

    ``event_id`` is the provider's own id; ``psp_payment_id`` as for
    :class:`ProviderPaymentState`.
    """

    event_id: str
    token: str
    status: PaymentStatus
    failure_code: str | None = None
    occurred_at: datetime | None = None
    psp_payment_id: str | None = None
    payment_id: str | None = None
    """paymux's payment id as the PSP echoes it in a *signed* field, for schemes that do not
    sign the token (Adyen's HMAC leaves ``additionalData`` out): paymux refuses the event if
    the token's payment has another id."""


@dataclass(frozen=True, slots=True)
class DisputeEvent:
    """A chargeback reported by the provider: opened, then won or lost.

    ``token`` is the disputed payment's token, or the PSP's own id of the payment that an
    earlier status report gave as ``psp_payment_id``; ``dispute_id`` the provider's id of
    the dispute, the same in every report on it; ``amount`` what the buyer's bank disputes.
    """

    event_id: str
    token: str
    dispute_id: str
    status: DisputeStatus
    amount: Money
    reason: str | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RefundEvent:
    """A provider reports where a refund it answered ``pending`` stands.

    The refund is found by paymux's ``refund_id`` (sent to the provider as its reference) or,
    when the provider cannot echo it, by the ``psp_reference`` it returned for the refund.
    """

    event_id: str
    status: RefundStatus
    refund_id: str | None = None
    psp_reference: str | None = None
    failure_code: str | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PayoutEvent:
    """A provider reports where a payout it answered ``pending`` stands (paid or failed).

    Found by paymux's ``payout_id`` or the provider's ``psp_reference`` for it.
    """

    event_id: str
    status: PayoutStatus
    payout_id: str | None = None
    psp_reference: str | None = None
    failure_code: str | None = None
    occurred_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SettlementReportAvailable:
    """The provider announces a settlement report that paymux can download and reconcile.

    ``report_name`` is the provider's stable name of the report, used as the run's file name
    and to queue the report once (``settlement_detail_report_batch_42.csv``);
    ``download_url`` where it is downloaded from. The plugin announces only reports its
    settlement parser reads and whose URL it checked (a provider object that announces
    them implements
    :class:`~paymux.core.reconciliation.parsers.SettlementReportDownloader`); paymux
    stores the announcement as a durable job in the webhook's transaction, and a worker
    downloads and reconciles the report.
    """

    event_id: str
    report_name: str
    download_url: str
    occurred_at: datetime | None = None


WebhookEvent = ProviderEvent | DisputeEvent | RefundEvent | PayoutEvent | SettlementReportAvailable
"""Everything :meth:`PaymentProvider.parse_webhook` may return."""


@dataclass(frozen=True, slots=True)
class RefundRequest:
    """A refund of (part of) a registered payment."""

    refund_id: str
    token: str
    """The payment's token at the provider."""
    amount: Money
    reason: str | None = None
    psp_payment_id: str | None = None
    """The PSP's own id of the payment, if a status report gave one (Adyen refunds the
    payment's pspReference, not the payment link that is the token)."""


@dataclass(frozen=True, slots=True)
class RefundResult:
    """The provider's answer to a refund. ``status`` is ``pending`` while it has not decided."""

    status: RefundStatus
    psp_reference: str | None = None
    failure_code: str | None = None


@dataclass(frozen=True, slots=True)
class PayoutRequest:
    """Money to send to a seller.

    ``amount`` is what the seller is paid, in the currency they are paid in (for a payout
    converted from another currency, its payout amount at the locked quote).
    ``destination`` is the seller's configured payout method at this provider; ``None`` when
    the seller has none (a provider that needs one refuses with
    :class:`ProviderRejectedError` code ``payout-destination-missing``).
    """

    payout_id: str
    seller_id: str
    amount: Money
    destination: PayoutDestination | None = None


@dataclass(frozen=True, slots=True)
class PayoutResult:
    """The provider's answer to a payout. ``pending`` while the money is on its way."""

    status: PayoutStatus
    psp_reference: str | None = None
    failure_code: str | None = None


@runtime_checkable
class PaymentProvider(Protocol):
    """A payment service provider, as paymux's use cases see it."""

    @property
    def name(self) -> str:
        """The provider's stable name, as used in URLs (``/v1/webhooks/{name}``) and settings."""
        ...

    def capabilities(self) -> ProviderCapabilities:
        """The countries, currencies, methods and features this provider serves.

        Called when paymux routes a checkout; must be cheap and must not do I/O.
        """
        ...

    async def register_checkout(
        self, request: CheckoutRequest, *, idempotency_key: str
    ) -> CheckoutRegistration:
        """Register a payment for a hosted checkout page and return its token and URL.

        Called once per payment, outside any database transaction, and again with the **same**
        ``idempotency_key`` when an earlier attempt's outcome is unknown: the provider must
        then return the registration it already made, never a second one (send the key in
        the PSP's own idempotency field). Must never receive, log or store card data.

        Raises :class:`ProviderTimeoutError` or :class:`ProviderUnavailableError` (retryable,
        outcome unknown) or :class:`ProviderRejectedError` (final).
        """
        ...

    async def fetch_status(self, token: str) -> ProviderPaymentState:
        """Ask the provider where the payment with this token stands.

        Used to confirm webhooks and to settle payments left ``unknown`` or ``pending``.
        Read-only: it must change nothing at the provider. Raises the same errors as
        :meth:`register_checkout`.
        """
        ...

    async def refund(self, request: RefundRequest, *, idempotency_key: str) -> RefundResult:
        """Refund ``request.amount`` of the payment with ``request.token`` to the buyer.

        Called outside any database transaction, only for providers whose capabilities list
        the ``"refunds"`` feature, and again with the **same** ``idempotency_key`` when an
        earlier attempt's outcome is unknown (the provider must not refund twice). Raises
        :class:`ProviderTimeoutError` or :class:`ProviderUnavailableError` (retryable,
        outcome unknown) or :class:`ProviderRejectedError` (final: the refund failed).
        """
        ...

    async def payout(self, request: PayoutRequest, *, idempotency_key: str) -> PayoutResult:
        """Send ``request.amount`` to the seller's account at the provider.

        Called only for providers whose capabilities list the ``"payouts"`` feature, outside
        any database transaction, and again with the **same** ``idempotency_key`` when an
        earlier attempt's outcome is unknown (the provider must not pay twice). Raises
        :class:`ProviderTimeoutError` or :class:`ProviderUnavailableError` (retryable,
        outcome unknown) or :class:`ProviderRejectedError` (final: the payout failed and is
        reversed).
        """
        ...

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        """Verify a webhook's signature with the provider's own scheme and normalize it.

        ``headers`` have lower-case names. Must do no I/O. Returns payment status reports
        (:class:`ProviderEvent`), chargebacks (:class:`DisputeEvent`), refund and payout
        updates (:class:`RefundEvent`, :class:`PayoutEvent`) and settlement reports ready
        for download (:class:`SettlementReportAvailable`); every event id must be stable
        across the provider's redeliveries, since paymux applies each id once. Raises
        :class:`WebhookVerificationError` for a bad signature, a stale timestamp or a body
        that cannot be read (a batch is refused whole if any item fails to verify); a
        webhook of a kind paymux does not use gives ``[]``.
        """
        ...

    async def aclose(self) -> None:
        """Release connections. Called once when the application shuts down."""
        ...
