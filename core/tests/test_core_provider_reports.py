"""Refund, payout and payout-method use cases driven by later provider reports (webhooks)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from paymux.core.domain.checkout import CheckoutDraft, OrderDraft
from paymux.core.domain.errors import (
    InvalidPayoutMethodError,
    PayoutMethodNotFoundError,
    ProviderOutcomeUnknownError,
    ProviderReferenceUnknownError,
)
from paymux.core.domain.jobs import JobState
from paymux.core.domain.payouts import PayoutDestination, PayoutStatus
from paymux.core.domain.refunds import RefundStatus
from paymux.core.domain.status import PaymentStatus
from paymux.core.jobs.payment_jobs import payout_job_handlers
from paymux.core.jobs.worker import Worker
from paymux.core.ports.provider import PayoutEvent, ProviderEvent, ProviderTimeoutError, RefundEvent
from paymux.core.providers import ProviderRegistry
from paymux.core.services.chargebacks import ChargebackService
from paymux.core.services.idempotency import IdempotentRequest
from paymux.core.services.ledger import LedgerService
from paymux.core.services.payments import PaymentService
from paymux.core.services.payouts import PayoutService, submit_payout_key
from paymux.core.services.refunds import RefundAsk, RefundService
from paymux.core.services.shipments import ShipmentService
from paymux.core.services.webhooks import WebhookService
from paymux.core.storage.database import Database
from paymux.core.storage.job_repository import JobQueue
from paymux.core.storage.unit_of_work import PaymentStore
from paymux.currencies import Money
from paymux_fakes import FakeProvider


@dataclass
class World:
    fake: FakeProvider
    other: FakeProvider
    payments: PaymentService
    refunds: RefundService
    payouts: PayoutService
    webhooks: WebhookService
    ledger: LedgerService
    payment_id: str
    order_id: str


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    database = Database(database_url)
    store = PaymentStore(database)
    fake = FakeProvider(refund_status=RefundStatus.PENDING, payout_status=PayoutStatus.PENDING)
    other = FakeProvider(provider_name="other")
    no_payouts = FakeProvider(provider_name="nopay", features=frozenset({"refunds"}))
    registry = ProviderRegistry([fake, other, no_payouts])
    payments = PaymentService(
        store=store, providers=registry, buyer_return_url=lambda p: "https://x", lock_seconds=60
    )
    refunds = RefundService(store=store, providers=registry, lock_seconds=60)
    payouts = PayoutService(store=store, providers=registry, lock_seconds=60)
    webhooks = WebhookService(
        store=store, payments=payments, refunds=refunds, payouts=payouts,
        chargebacks=ChargebackService(store=store),
    )  # fmt: skip
    draft = CheckoutDraft(
        "b1", "EUR", "DE", "card", "https://shop",
        (OrderDraft("s1", Money(1000, "EUR"), Money(100, "EUR"), Money(0, "EUR"), "o1"),),
    )  # fmt: skip
    created = await payments.create_payment(
        IdempotentRequest("c1", "pay", "f"), draft, lambda p: json.dumps({"id": p.id})
    )
    payment_id = json.loads(created.body)["id"]
    await payments.apply_provider_events(
        "fake", [ProviderEvent("e1", "tok_0", PaymentStatus.SUCCEEDED)]
    )
    payment = await payments.get_payment(payment_id, client_id="c1")
    order_id = payment.orders[0].id
    await ShipmentService(store=store).confirm_shipment(
        IdempotentRequest("c1", "ship", "f"), order_id, lambda s: "{}"
    )
    yield World(fake, other, payments, refunds, payouts, webhooks, LedgerService(store=store),
                payment_id, order_id)  # fmt: skip
    await database.dispose()


def _status(body: str) -> str:
    return str(json.loads(body)["status"])


async def test_a_pending_refund_is_settled_by_its_webhook_once(world: World) -> None:
    stored = await world.refunds.create_refund(
        IdempotentRequest("c1", "r1", "f"),
        world.payment_id,
        RefundAsk(None, "4.00", None),
        lambda r: json.dumps({"id": r.id, "status": r.status.value}),
    )
    refund_id = json.loads(stored.body)["id"]
    assert _status(stored.body) == "pending"
    (wallet,) = await world.ledger.wallet("c1", "s1")
    assert wallet.available == Money(900, "EUR")  # nothing moves while pending

    # the provider names the refund by its own reference, kept while the refund was pending
    event = RefundEvent("rf-1", RefundStatus.SUCCEEDED, psp_reference=f"re_{refund_id}")
    assert (await world.webhooks.apply("fake", [event])).applied == 1
    assert (await world.webhooks.apply("fake", [event])).duplicates == 1
    late = RefundEvent("rf-2", RefundStatus.FAILED, refund_id=refund_id)
    assert (await world.webhooks.apply("fake", [late])).unchanged == 1
    refund = await world.refunds.get_refund(refund_id, client_id="c1")
    assert refund.status is RefundStatus.SUCCEEDED
    (wallet,) = await world.ledger.wallet("c1", "s1")
    assert wallet.available == Money(540, "EUR")  # 900 - the seller's share 360 of 400


async def test_a_report_on_an_unknown_refund_or_payout_is_refused(world: World) -> None:
    with pytest.raises(ProviderReferenceUnknownError):
        await world.webhooks.apply("fake", [RefundEvent("x1", RefundStatus.SUCCEEDED, "re_nope")])
    with pytest.raises(ProviderReferenceUnknownError):
        await world.webhooks.apply("fake", [PayoutEvent("x2", PayoutStatus.PAID, "po_nope")])


async def test_a_pending_payout_failed_by_webhook_is_reversed(world: World) -> None:
    stored = await world.payouts.create_payout(
        IdempotentRequest("c1", "p1", "f"), seller_id="s1", currency="EUR", amount=None,
        render=lambda p: json.dumps({"id": p.id, "status": p.status.value}),
    )  # fmt: skip
    payout_id = json.loads(stored.body)["id"]
    assert _status(stored.body) == "pending"
    # another provider cannot settle it
    foreign = PayoutEvent("o1", PayoutStatus.PAID, payout_id=payout_id)
    with pytest.raises(ProviderReferenceUnknownError):
        await world.webhooks.apply("other", [foreign])
    failed = PayoutEvent("f1", PayoutStatus.FAILED, payout_id=payout_id, failure_code="closed")
    assert (await world.webhooks.apply("fake", [failed])).applied == 1
    payout = await world.payouts.get_payout(payout_id, client_id="c1")
    assert (payout.status, payout.failure_code) == (PayoutStatus.FAILED, "closed")
    (wallet,) = await world.ledger.wallet("c1", "s1")
    assert wallet.available == Money(900, "EUR")


async def test_payouts_follow_the_sellers_payout_method(world: World) -> None:
    with pytest.raises(PayoutMethodNotFoundError):
        await world.payouts.get_payout_method("c1", "s1")
    with pytest.raises(InvalidPayoutMethodError):
        await world.payouts.set_payout_method(
            "c1", "s1", provider="nopay", account="x", holder_name=None, details={}
        )
    with pytest.raises(InvalidPayoutMethodError):
        await world.payouts.set_payout_method(
            "c1", "s1", provider="missing", account="x", holder_name=None, details={}
        )
    first = await world.payouts.set_payout_method(
        "c1", "s1", provider="fake", account="old", holder_name=None, details={}
    )
    method = await world.payouts.set_payout_method(
        "c1", "s1", provider="other", account="DE89370400440532013000",
        holder_name="Seller One", details={"bic": "COBADEFFXXX"},
    )  # fmt: skip
    assert method.created_at == first.created_at
    assert await world.payouts.get_payout_method("c1", "s1") == method
    stored = await world.payouts.create_payout(
        IdempotentRequest("c1", "p1", "f"), seller_id="s1", currency="EUR", amount="5.00",
        render=lambda p: json.dumps({"id": p.id, "status": p.status.value}),
    )  # fmt: skip
    assert _status(stored.body) == "paid"  # "other" pays at once
    assert world.fake.payout_requests == []
    (request,) = world.other.payout_requests
    assert request.destination == PayoutDestination(
        "DE89370400440532013000", "Seller One", {"bic": "COBADEFFXXX"}
    )
    payout = await world.payouts.get_payout(json.loads(stored.body)["id"], client_id="c1")
    assert (payout.provider, payout.destination) == ("other", request.destination)


async def test_a_payout_whose_answer_was_lost_is_sent_again_by_a_worker(
    world: World, database_url: str
) -> None:
    world.fake.fail_with.append(ProviderTimeoutError("slow"))
    with pytest.raises(ProviderOutcomeUnknownError) as raised:
        await world.payouts.create_payout(
            IdempotentRequest("c1", "p1", "f"), seller_id="s1", currency="EUR", amount=None,
            render=lambda p: json.dumps({"id": p.id, "status": p.status.value}),
        )  # fmt: skip
    payout_id = raised.value.ids["payout_id"]
    database = Database(database_url)
    try:
        async with PaymentStore(database).begin() as uow:
            job = await uow.jobs.get_by_key(submit_payout_key(payout_id))
        assert job is not None
        assert (job.state, job.attempts) == (JobState.QUEUED, 1)
        # a worker takes it once due (here: made due now)
        worker = Worker(
            JobQueue(database), payout_job_handlers(world.payouts), worker_id="w",
            clock=lambda: job.next_run_at,
        )  # fmt: skip
        await worker.drain()
        assert worker.stats.by_kind["submit_payout"] == 1
        payout = await world.payouts.get_payout(payout_id, client_id="c1")
        assert payout.status is PayoutStatus.PENDING  # the PSP accepted it: a webhook settles
        assert payout.psp_reference == f"pay_{payout_id}"
        calls = [c for c in world.fake.calls if c.startswith("payout:")]
        assert len(calls) == 2
        assert len(set(calls)) == 1  # the same PSP key
        async with PaymentStore(database).begin() as uow:
            done = await uow.jobs.get_by_key(submit_payout_key(payout_id))
        assert done is not None
        assert done.state is JobState.DONE
    finally:
        await database.dispose()
