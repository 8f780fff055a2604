"""Refund use case with a fake provider: unknown outcomes resume with the same PSP key."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from paymux.core.domain.checkout import CheckoutDraft, OrderDraft
from paymux.core.domain.errors import ProviderOutcomeUnknownError, RefundNotAllowedError
from paymux.core.domain.jobs import JobState
from paymux.core.domain.models import PaymentEvent
from paymux.core.domain.refunds import Refund, RefundStatus
from paymux.core.domain.status import PaymentStatus
from paymux.core.jobs.payment_jobs import refund_job_handlers
from paymux.core.jobs.retry import RetryPolicy
from paymux.core.jobs.worker import Worker
from paymux.core.ports.provider import (
    ProviderEvent,
    ProviderRejectedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
)
from paymux.core.providers import ProviderRegistry
from paymux.core.services.idempotency import IdempotentRequest
from paymux.core.services.payments import PaymentService
from paymux.core.services.refunds import RefundAsk, RefundService, submit_refund_key
from paymux.core.storage.database import Database
from paymux.core.storage.job_repository import JobQueue
from paymux.core.storage.unit_of_work import PaymentStore
from paymux.currencies import Money
from paymux_fakes import FakeProvider

QUICK_RETRIES = {"submit_refund": RetryPolicy(3, base_seconds=0.01, cap_seconds=0.01)}


@pytest.fixture
async def services(
    database_url: str,
) -> AsyncIterator[tuple[PaymentService, RefundService, FakeProvider, str]]:
    database = Database(database_url)
    provider = FakeProvider()
    store = PaymentStore(database)
    registry = ProviderRegistry([provider])
    payments = PaymentService(
        store=store, providers=registry, buyer_return_url=lambda p: "https://x", lock_seconds=60
    )
    refunds = RefundService(
        store=store, providers=registry, lock_seconds=60, retry_policies=QUICK_RETRIES
    )

    def render(payment: PaymentEvent) -> str:
        return json.dumps({"id": payment.id})

    eur = Money(1000, "EUR")
    draft = CheckoutDraft(
        "b1", "EUR", "DE", "card", "https://shop",
        (OrderDraft("s1", eur, Money(100, "EUR"), Money(0, "EUR"), "o1"),),
    )  # fmt: skip
    created = await payments.create_payment(IdempotentRequest("c1", "pay", "f"), draft, render)
    payment_id = json.loads(created.body)["id"]
    await payments.apply_provider_events(
        "fake", [ProviderEvent("e1", "tok_0", PaymentStatus.SUCCEEDED)]
    )
    yield payments, refunds, provider, payment_id
    await database.dispose()


def render_refund(refund: Refund) -> str:
    return json.dumps(
        {"id": refund.id, "status": refund.status.value, "amount": refund.amount.minor}
    )


async def test_timeout_keeps_the_refund_pending_and_the_retry_settles_it(
    services: tuple[PaymentService, RefundService, FakeProvider, str],
) -> None:
    _payments, refunds, provider, payment_id = services
    provider.fail_with.append(ProviderTimeoutError("slow"))
    request = IdempotentRequest("c1", "r1", "f")
    with pytest.raises(ProviderOutcomeUnknownError):
        await refunds.create_refund(
            request, payment_id, RefundAsk(None, "4.00", None), render_refund
        )
    # the pending refund counts: only 6.00 is left
    with pytest.raises(RefundNotAllowedError):
        await refunds.create_refund(
            IdempotentRequest("c1", "r2", "g"),
            payment_id,
            RefundAsk(None, "6.01", None),
            render_refund,
        )
    settled = await refunds.create_refund(
        request, payment_id, RefundAsk(None, "4.00", None), render_refund
    )
    assert json.loads(settled.body)["status"] == "succeeded"
    refund_calls = [c for c in provider.calls if c.startswith("refund:")]
    assert len(refund_calls) == 2
    assert refund_calls[0] == refund_calls[1]


async def test_a_rejected_refund_fails_and_posts_nothing(
    services: tuple[PaymentService, RefundService, FakeProvider, str],
) -> None:
    _payments, refunds, provider, payment_id = services
    provider.fail_with.append(ProviderRejectedError("no", code="refund_declined"))
    stored = await refunds.create_refund(
        IdempotentRequest("c1", "r1", "f"), payment_id, RefundAsk(None, None, None), render_refund
    )
    body = json.loads(stored.body)
    assert body["status"] == RefundStatus.FAILED.value
    refund = await refunds.get_refund(body["id"], client_id="c1")
    assert refund.failure_code == "refund_declined"


async def test_a_refund_whose_answer_was_lost_is_sent_again_by_a_worker(
    services: tuple[PaymentService, RefundService, FakeProvider, str], database_url: str
) -> None:
    _payments, refunds, provider, payment_id = services
    provider.fail_with.extend([ProviderTimeoutError("slow"), ProviderUnavailableError("503")])
    with pytest.raises(ProviderOutcomeUnknownError) as raised:
        await refunds.create_refund(
            IdempotentRequest("c1", "r1", "f"),
            payment_id,
            RefundAsk(None, "4.00", None),
            render_refund,
        )
    refund_id = raised.value.ids["refund_id"]
    database = Database(database_url)
    try:
        worker = Worker(
            JobQueue(database),
            refund_job_handlers(refunds),
            policies=QUICK_RETRIES,
            worker_id="w",
        )
        state = None
        for _ in range(100):  # the back-off is at most 10 ms
            await worker.drain()
            async with PaymentStore(database).begin() as uow:
                job = await uow.jobs.get_by_key(submit_refund_key(refund_id))
            assert job is not None
            state = job.state
            if state is JobState.DONE:
                break
            await asyncio.sleep(0.01)
        assert state is JobState.DONE
        refund_calls = [c for c in provider.calls if c.startswith("refund:")]
        assert len(refund_calls) == 3  # the lost one, the 503, the one that went through
        assert len(set(refund_calls)) == 1  # always the same PSP key
        refund = await refunds.get_refund(refund_id, client_id="c1")
        assert refund.status is RefundStatus.SUCCEEDED
        await worker.drain()
        assert len([c for c in provider.calls if c.startswith("refund:")]) == 3
    finally:
        await database.dispose()
