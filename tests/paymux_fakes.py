"""A scriptable in-memory provider for use-case tests (no HTTP)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

from paymux.core.domain.payouts import PayoutStatus
from paymux.core.domain.refunds import RefundStatus
from paymux.core.domain.status import PaymentStatus
from paymux.core.notifications import PaymentSucceededNotification
from paymux.core.ports.provider import (
    CheckoutRegistration,
    CheckoutRequest,
    PayoutRequest,
    PayoutResult,
    ProviderCapabilities,
    ProviderError,
    ProviderPaymentState,
    RefundRequest,
    RefundResult,
    WebhookEvent,
)


@dataclass
class FakeProvider:
    """Registers every checkout; ``fail_with`` makes the next registrations raise."""

    provider_name: str = "fake"
    fail_with: list[ProviderError] = field(default_factory=list)
    status: PaymentStatus = PaymentStatus.PENDING
    registrations: dict[str, CheckoutRegistration] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    closed: bool = False
    refund_status: RefundStatus = RefundStatus.SUCCEEDED
    """What refunds answer (``pending``: a later webhook settles them)."""
    payout_status: PayoutStatus = PayoutStatus.PAID
    """What payouts answer (``pending``: a later webhook settles them)."""
    features: frozenset[str] = frozenset({"refunds", "payouts"})
    payout_requests: list[PayoutRequest] = field(default_factory=list)
    hang_registrations: bool = False
    """Registrations never answer (cancel the caller to simulate a crash mid-call)."""
    currencies: frozenset[str] = frozenset({"EUR"})
    status_checks: list[str] = field(default_factory=list)
    """Tokens ``fetch_status`` was asked about."""
    status_failures: list[ProviderError] = field(default_factory=list)
    """The next status fetches raise these, one each."""
    return_urls: list[str] = field(default_factory=list)
    """The ``return_url`` of every registration asked for, in order."""

    @property
    def name(self) -> str:
        return self.provider_name

    def capabilities(self) -> ProviderCapabilities:
        return ProviderCapabilities(
            methods=frozenset({"card"}),
            currencies=self.currencies,
            features=self.features,
        )

    async def register_checkout(
        self, request: CheckoutRequest, *, idempotency_key: str
    ) -> CheckoutRegistration:
        self.calls.append(idempotency_key)
        self.return_urls.append(request.return_url)
        if self.hang_registrations:
            await asyncio.Event().wait()  # until cancelled: a process that dies mid-call
        if self.fail_with:
            raise self.fail_with.pop(0)
        return self.registrations.setdefault(
            idempotency_key,
            CheckoutRegistration(
                token=f"tok_{len(self.registrations)}",
                redirect_url=f"https://psp.example/pay/{len(self.registrations)}",
            ),
        )

    async def fetch_status(self, token: str) -> ProviderPaymentState:
        self.status_checks.append(token)
        if self.status_failures:
            raise self.status_failures.pop(0)
        return ProviderPaymentState(token=token, status=self.status)

    async def refund(self, request: RefundRequest, *, idempotency_key: str) -> RefundResult:
        self.calls.append(f"refund:{idempotency_key}")
        if self.fail_with:
            raise self.fail_with.pop(0)
        return RefundResult(status=self.refund_status, psp_reference=f"re_{request.refund_id}")

    async def payout(self, request: PayoutRequest, *, idempotency_key: str) -> PayoutResult:
        self.calls.append(f"payout:{idempotency_key}")
        self.payout_requests.append(request)
        if self.fail_with:
            raise self.fail_with.pop(0)
        return PayoutResult(status=self.payout_status, psp_reference=f"pay_{request.payout_id}")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        return []

    async def aclose(self) -> None:
        self.closed = True


@dataclass
class FakeNotifier:
    """A buyer notifier that records notifications; ``fail_with`` makes the next calls raise."""

    name: str = "fake"
    fail_with: list[Exception] = field(default_factory=list)
    sent: list[PaymentSucceededNotification] = field(default_factory=list)
    calls: int = 0
    closed: bool = False

    async def notify_payment_succeeded(self, notification: PaymentSucceededNotification) -> None:
        """Record ``notification``, or raise the next of ``fail_with``."""
        self.calls += 1
        if self.fail_with:
            raise self.fail_with.pop(0)
        self.sent.append(notification)

    async def aclose(self) -> None:
        """Remember being closed."""
        self.closed = True
