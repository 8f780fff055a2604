"""Helpers for buyer-notification tests: a payment service on a fake provider, a worker with
the notifiers under test, and a clock the test moves."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from paymux.core.domain.checkout import CheckoutDraft, OrderDraft
from paymux.core.domain.delivery import DeliveryEstimate
from paymux.core.domain.jobs import Job
from paymux.core.domain.models import PaymentEvent
from paymux.core.domain.status import PaymentStatus
from paymux.core.jobs.payment_jobs import payment_job_handlers
from paymux.core.jobs.retry import RetryPolicy
from paymux.core.jobs.worker import Worker
from paymux.core.notifications import BuyerNotifier
from paymux.core.providers import ProviderRegistry
from paymux.core.services.idempotency import IdempotentRequest
from paymux.core.services.payments import PaymentService, notify_job_key
from paymux.core.storage.database import Database
from paymux.core.storage.job_repository import JobQueue
from paymux.core.storage.unit_of_work import PaymentStore
from paymux.currencies import Money
from paymux_fakes import FakeProvider

START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
BUYER_EMAIL = "Jane.Buyer@example.com"


def checkout(
    *, buyer_email: str | None = BUYER_EMAIL, buyer_locale: str | None = None
) -> CheckoutDraft:
    """A 42.50 EUR checkout with two sellers, one with a one-day, one with a ranged estimate."""
    return CheckoutDraft(
        buyer_id="b1",
        currency="EUR",
        country="DE",
        payment_method="card",
        return_url="https://shop.example/back",
        orders=(
            OrderDraft(
                "seller-a", Money(3000, "EUR"), Money(300, "EUR"), Money(0, "EUR"), "order-1",
                estimated_delivery=DeliveryEstimate(date(2026, 12, 1), date(2026, 12, 3)),
            ),
            OrderDraft(
                "seller-b", Money(1250, "EUR"), Money(0, "EUR"), Money(0, "EUR"), "order-2",
                estimated_delivery=DeliveryEstimate(date(2026, 11, 28), date(2026, 11, 28)),
            ),
        ),
        buyer_email=buyer_email,
        buyer_locale=buyer_locale,
    )  # fmt: skip


@dataclass
class NotifySetup:
    """A payment service and a worker running ``notify_buyer`` jobs with ``notifiers``."""

    database: Database
    service: PaymentService
    provider: FakeProvider
    worker: Worker
    now: list[datetime] = field(default_factory=lambda: [START])

    def advance(self, seconds: float) -> None:
        """Move the clock."""
        self.now[0] += timedelta(seconds=seconds)

    async def succeeded_payment(self, draft: CheckoutDraft | None = None, key: str = "k1") -> str:
        """Create a payment and let the provider report it succeeded; its id."""
        stored = await self.service.create_payment(
            IdempotentRequest(client_id="c1", key=key, fingerprint=f"f-{key}"),
            draft or checkout(),
            lambda payment: json.dumps({"id": payment.id}),
        )
        payment_id: str = json.loads(stored.body)["id"]
        self.provider.status = PaymentStatus.SUCCEEDED
        payment = await self.service.refresh_payment(payment_id)
        assert payment.status is PaymentStatus.SUCCEEDED
        return payment_id

    async def payment(self, payment_id: str) -> PaymentEvent:
        """The stored payment."""
        return await self.service.get_payment(payment_id, client_id=None)

    async def notify_job(self, payment_id: str) -> Job:
        """The payment's ``notify_buyer`` job."""
        async with PaymentStore(self.database).begin() as uow:
            job = await uow.jobs.get_by_key(notify_job_key(payment_id))
        assert job is not None
        return job

    async def run_due(self) -> int:
        """Run every job due now."""
        return await self.worker.drain()


def notify_setup(
    database: Database,
    notifiers: Sequence[BuyerNotifier],
    *,
    policy: RetryPolicy | None = None,
) -> NotifySetup:
    """A :class:`NotifySetup` on ``database``; ``policy`` is the ``notify_buyer`` back-off
    (default: 5 attempts, 10 to 60 seconds)."""
    now = [START]
    provider = FakeProvider()
    registry = ProviderRegistry([provider])
    service = PaymentService(
        store=PaymentStore(database),
        providers=registry,
        buyer_return_url=lambda payment: f"https://paymux.example/checkout/{payment.id}",
        lock_seconds=60,
        clock=lambda: now[0],
    )
    worker = Worker(
        JobQueue(database),
        payment_job_handlers(
            service,
            notifiers=notifiers,
            status_page_url=lambda payment: f"https://paymux.example/checkout/{payment.id}",
            clock=lambda: now[0],
        ),
        policies={"notify_buyer": policy or RetryPolicy(5, base_seconds=10, cap_seconds=60)},
        worker_id="w",
        clock=lambda: now[0],
        rng=random.Random(7),
    )
    return NotifySetup(database, service, provider, worker, now)
