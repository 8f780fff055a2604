"""Refund use case with a fake provider: unknown outcomes resume with the same PSP key."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from paymux.core.domain.checkout import CheckoutDraft, OrderDraft
from paymux.core.domain.errors import ProviderOutcomeUnknownError, RefundNotAllowedError
from paymux.core.domain.models import PaymentEvent
from paymux.core.domain.refunds import Refund, RefundStatus
from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import ProviderEvent, ProviderRejectedError, ProviderTimeoutError
from paymux.core.providers import ProviderRegistry
from paymux.core.services.idempotency import IdempotentRequest
from paymux.core.services.payments import PaymentService
from paymux.core.services.refunds import RefundAsk, RefundService
from paymux.core.storage.database import Database
from paymux.core.storage.unit_of_work import PaymentStore
from paymux.currencies import Money
from paymux_fakes import FakeProvider


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
    refunds = RefundService(store=store, providers=registry, lock_seconds=60)

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
