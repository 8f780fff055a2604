"""Registration, the janitor and notifications as durable jobs, with a fake provider."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from paymux.core.domain.checkout import CheckoutDraft, OrderDraft
from paymux.core.domain.errors import ProviderOutcomeUnknownError
from paymux.core.domain.jobs import JobState
from paymux.core.domain.models import PaymentEvent
from paymux.core.domain.refunds import RefundStatus
from paymux.core.domain.status import PaymentStatus
from paymux.core.jobs.circuit import CircuitBreakers
from paymux.core.jobs.janitor import JanitorSchedule
from paymux.core.jobs.payment_jobs import (
    JANITOR_EXPIRED,
    payment_job_handlers,
    refund_job_handlers,
)
from paymux.core.jobs.retry import RetryPolicy
from paymux.core.jobs.worker import Worker
from paymux.core.ports.provider import (
    ProviderEvent,
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
)
from paymux.core.providers import ProviderRegistry
from paymux.core.routing import CapabilityRouter
from paymux.core.services.idempotency import IdempotentRequest
from paymux.core.services.payment_pending import PendingReason
from paymux.core.services.payments import (
    PaymentService,
    check_job_key,
    notify_job_key,
    register_job_key,
)
from paymux.core.services.refunds import RefundService, late_refund_id
from paymux.core.storage.database import Database
from paymux.core.storage.job_repository import JobQueue
from paymux.core.storage.tables import LedgerTransactionRow, OutboxEventRow, table_of
from paymux.core.storage.unit_of_work import PaymentStore
from paymux.currencies import Money
from paymux_fakes import FakeNotifier, FakeProvider

START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def draft() -> CheckoutDraft:
    return CheckoutDraft(
        buyer_id="b1",
        currency="EUR",
        country="DE",
        payment_method="card",
        return_url="https://shop.example/back",
        buyer_email="buyer@example.com",
        orders=(
            OrderDraft("s1", Money(1000, "EUR"), Money(100, "EUR"), Money(50, "EUR"), "o1"),
            OrderDraft("s2", Money(500, "EUR"), Money(0, "EUR"), Money(0, "EUR"), "o2"),
        ),
    )


def render(payment: PaymentEvent) -> str:
    return json.dumps({"id": payment.id, "status": payment.status.value})


def request(key: str = "k1") -> IdempotentRequest:
    return IdempotentRequest(client_id="c1", key=key, fingerprint=f"f-{key}")


@dataclass
class Setup:
    service: PaymentService
    provider: FakeProvider
    database: Database
    worker: Worker
    breakers: CircuitBreakers
    now: list[datetime]
    notifier: FakeNotifier = field(default_factory=FakeNotifier)

    def advance(self, seconds: float) -> None:
        self.now[0] += timedelta(seconds=seconds)

    async def job(self, key: str) -> JobState | None:
        async with PaymentStore(self.database).begin() as uow:
            job = await uow.jobs.get_by_key(key)
        return None if job is None else job.state

    async def drain_for(self, seconds: float, step: float) -> None:
        """Let ``seconds`` pass in steps of ``step``, running due jobs at each."""
        for _ in range(int(seconds / step)):
            await self.worker.drain()
            self.advance(step)
        await self.worker.drain()


def build(
    database: Database,
    providers: list[FakeProvider],
    *,
    schedule: tuple[float, ...] = (60, 60),
    refund_late_payments: bool = True,
) -> Setup:
    now = [START]
    breakers = CircuitBreakers(threshold=3, open_seconds=30, clock=lambda: now[0])
    registry = ProviderRegistry(providers)
    service = PaymentService(
        store=PaymentStore(database),
        providers=registry,
        router=CapabilityRouter(registry, availability=breakers.unavailable_reason),
        buyer_return_url=lambda payment_id: f"https://paymux.example/checkout/{payment_id}",
        lock_seconds=60,
        clock=lambda: now[0],
        breakers=breakers,
        janitor=JanitorSchedule({"default": schedule}),
        retry_policies={"register_payment": RetryPolicy(4, base_seconds=1, cap_seconds=4)},
        refund_late_payments=refund_late_payments,
    )
    setup = Setup(service, providers[0], database, None, breakers, now)  # type: ignore[arg-type]

    refunds = RefundService(
        store=PaymentStore(database), providers=registry, lock_seconds=60, clock=lambda: now[0]
    )
    setup.worker = Worker(
        JobQueue(database),
        {
            **payment_job_handlers(service, notifiers=[setup.notifier], clock=lambda: now[0]),
            **refund_job_handlers(refunds),
        },
        policies={"register_payment": RetryPolicy(4, base_seconds=1, cap_seconds=4)},
        breakers=breakers,
        worker_id="w",
        clock=lambda: now[0],
        rng=random.Random(5),
    )
    return setup


@pytest.fixture
async def setup(database_url: str) -> AsyncIterator[Setup]:
    database = Database(database_url)
    yield build(database, [FakeProvider()])
    await database.dispose()


async def statuses(setup: Setup, payment_id: str) -> set[PaymentStatus]:
    payment = await setup.service.get_payment(payment_id, client_id=None)
    return {order.status for order in payment.orders}


async def test_a_registration_that_times_out_is_finished_by_the_worker(setup: Setup) -> None:
    setup.provider.fail_with.append(ProviderTimeoutError("slow"))
    with pytest.raises(ProviderOutcomeUnknownError) as raised:
        await setup.service.create_payment(request(), draft(), render)
    payment_id = raised.value.ids["payment_id"]
    assert await statuses(setup, payment_id) == {PaymentStatus.UNKNOWN}
    assert await setup.job(register_job_key(payment_id)) is JobState.QUEUED
    pending = await setup.service.pending_work(
        await setup.service.get_payment(payment_id, client_id=None)
    )
    assert pending is not None
    assert pending.reason is PendingReason.OUTCOME_UNKNOWN
    assert pending.next_check_at is not None
    assert START <= pending.next_check_at <= START + timedelta(seconds=1)
    await setup.drain_for(2, 1)
    assert await statuses(setup, payment_id) == {PaymentStatus.PENDING}
    assert await setup.job(register_job_key(payment_id)) is JobState.DONE
    assert await setup.job(check_job_key(payment_id)) is JobState.QUEUED
    # the same PSP key every time: at most one registration at the PSP
    assert len(set(setup.provider.calls)) == 1
    calls = len(setup.provider.calls)
    # the client's retry with its key now gets the stored answer without a provider call
    stored = await setup.service.create_payment(request(), draft(), render)
    assert json.loads(stored.body) == {"id": payment_id, "status": "pending"}
    assert len(setup.provider.calls) == calls


async def test_a_rate_limited_registration_stays_executing_and_waits_retry_after(
    setup: Setup,
) -> None:
    setup.provider.fail_with.append(ProviderRateLimitedError("429", retry_after_seconds=3))
    with pytest.raises(ProviderOutcomeUnknownError) as raised:
        await setup.service.create_payment(request(), draft(), render)
    payment_id = raised.value.ids["payment_id"]
    # the PSP did nothing: the outcome is known, the orders are not unknown
    assert await statuses(setup, payment_id) == {PaymentStatus.EXECUTING}
    await setup.worker.drain()
    assert len(setup.provider.calls) == 1
    setup.advance(3)
    await setup.worker.drain()
    assert await statuses(setup, payment_id) == {PaymentStatus.PENDING}


async def test_registration_dead_letters_after_its_attempts_and_a_replay_completes_it(
    setup: Setup,
) -> None:
    setup.provider.fail_with.extend(ProviderUnavailableError("503") for _ in range(4))
    with pytest.raises(ProviderOutcomeUnknownError) as raised:
        await setup.service.create_payment(request(), draft(), render)
    payment_id = raised.value.ids["payment_id"]
    await setup.drain_for(300, 1)  # the circuit opens on the way: the job waits it out
    assert await setup.job(register_job_key(payment_id)) is JobState.DEAD
    assert await statuses(setup, payment_id) == {PaymentStatus.UNKNOWN}  # never failed
    queue = JobQueue(setup.database)
    [dead] = await queue.dead_letters(client_id="c1")
    assert dead.kind == "register_payment"
    assert "attempt 4 of 4" in (dead.last_error or "")
    payment = await setup.service.get_payment(payment_id, client_id=None)
    pending = await setup.service.pending_work(payment)
    assert pending is not None
    assert (pending.reason, pending.dead_letter_id) == (PendingReason.NEEDS_ATTENTION, dead.id)
    assert await queue.replay(dead.id, now=setup.now[0])
    await setup.worker.drain()
    assert await statuses(setup, payment_id) == {PaymentStatus.PENDING}
    payment = await setup.service.get_payment(payment_id, client_id=None)
    pending = await setup.service.pending_work(payment)
    assert pending is not None
    assert pending.reason is PendingReason.AWAITING_BUYER
    assert pending.next_check_at == setup.now[0] + timedelta(seconds=60)
    assert len(set(setup.provider.calls)) == 1
    assert len(setup.provider.calls) == 5


async def test_a_decline_in_the_worker_fails_the_payment_and_is_not_retried(
    setup: Setup,
) -> None:
    setup.provider.fail_with.extend(
        [ProviderTimeoutError("slow"), ProviderRejectedError("no", code="card_declined")]
    )
    with pytest.raises(ProviderOutcomeUnknownError) as raised:
        await setup.service.create_payment(request(), draft(), render)
    payment_id = raised.value.ids["payment_id"]
    await setup.drain_for(10, 1)
    payment = await setup.service.get_payment(payment_id, client_id=None)
    assert {order.failure_code for order in payment.orders} == {"card_declined"}
    assert payment.status is PaymentStatus.FAILED
    assert len(setup.provider.calls) == 2
    assert await setup.job(register_job_key(payment_id)) is JobState.DONE


async def test_an_inline_decline_closes_the_registration_job_at_once(setup: Setup) -> None:
    setup.provider.fail_with.append(ProviderRejectedError("no", code="card_declined"))
    stored = await setup.service.create_payment(request(), draft(), render)
    body = json.loads(stored.body)
    assert body["status"] == "failed"
    # not left running under the request's lease for a worker to take over later
    assert await setup.job(register_job_key(body["id"])) is JobState.DONE
    setup.advance(120)
    await setup.worker.drain()
    assert setup.worker.stats.lost == 0
    assert sum(setup.worker.stats.by_kind.values()) == 0
    assert len(setup.provider.calls) == 1


async def test_a_request_that_dies_mid_call_is_resumed_after_its_lease(setup: Setup) -> None:
    setup.provider.hang_registrations = True
    dying = asyncio.create_task(setup.service.create_payment(request(), draft(), render))
    for _ in range(1000):  # until the provider is called: the payment has committed
        if setup.provider.calls:
            break
        await asyncio.sleep(0.01)
    assert setup.provider.calls
    dying.cancel()  # the process dies mid-call
    with pytest.raises(asyncio.CancelledError):
        await dying
    setup.provider.hang_registrations = False
    async with PaymentStore(setup.database).begin() as uow:
        [payment_id] = (
            await uow._session.execute(sa.text("SELECT id FROM payment_event"))
        ).scalars()
    assert await setup.job(register_job_key(payment_id)) is JobState.RUNNING
    await setup.worker.drain()
    assert len(setup.provider.calls) == 1  # the request's lease still holds
    setup.advance(61)
    await setup.worker.drain()
    assert await statuses(setup, payment_id) == {PaymentStatus.PENDING}
    assert len(set(setup.provider.calls)) == 1


async def test_the_janitor_expires_a_payment_nobody_paid(setup: Setup) -> None:
    stored = await setup.service.create_payment(request(), draft(), render)
    payment_id = json.loads(stored.body)["id"]
    await setup.drain_for(59, 1)
    assert await setup.job(check_job_key(payment_id)) is JobState.QUEUED  # not due yet
    await setup.drain_for(200, 10)
    payment = await setup.service.get_payment(payment_id, client_id=None)
    assert payment.status is PaymentStatus.EXPIRED
    assert await setup.service.pending_work(payment) is None
    assert {order.failure_code for order in payment.orders} == {JANITOR_EXPIRED}
    assert await setup.job(check_job_key(payment_id)) is JobState.DONE
    async with setup.database.transaction() as session:
        outbox = table_of(OutboxEventRow)
        payloads = (await session.execute(sa.select(outbox.c.payload))).scalars().all()
    assert sum(json.loads(p).get("current") == "expired" for p in payloads) == 2  # per order


async def test_a_dead_janitor_check_needs_attention_and_a_replay_settles_it(
    setup: Setup,
) -> None:
    stored = await setup.service.create_payment(request(), draft(), render)
    payment_id = json.loads(stored.body)["id"]
    setup.provider.status_failures.extend(ProviderTimeoutError("slow") for _ in range(10))
    await setup.drain_for(60 + 3600 * 12, 600)
    assert await setup.job(check_job_key(payment_id)) is JobState.DEAD
    payment = await setup.service.get_payment(payment_id, client_id=None)
    pending = await setup.service.pending_work(payment)
    assert pending is not None
    [dead] = await JobQueue(setup.database).dead_letters()
    assert (pending.reason, pending.dead_letter_id) == (PendingReason.NEEDS_ATTENTION, dead.id)
    assert pending.next_check_at is None
    setup.provider.status_failures.clear()
    setup.provider.status = PaymentStatus.SUCCEEDED
    assert await JobQueue(setup.database).replay(dead.id, now=setup.now[0])
    await setup.worker.drain()
    assert await statuses(setup, payment_id) == {PaymentStatus.SUCCEEDED}


async def test_the_janitor_applies_a_late_success_once_and_the_buyer_is_told(setup: Setup) -> None:
    stored = await setup.service.create_payment(request(), draft(), render)
    payment_id = json.loads(stored.body)["id"]
    await setup.drain_for(60, 10)  # first check: still pending
    assert await statuses(setup, payment_id) == {PaymentStatus.PENDING}
    setup.provider.status = PaymentStatus.SUCCEEDED
    setup.notifier.fail_with.append(RuntimeError("SMTP down"))
    await setup.drain_for(60, 10)
    assert await statuses(setup, payment_id) == {PaymentStatus.SUCCEEDED}
    assert await setup.job(check_job_key(payment_id)) is JobState.DONE
    assert setup.worker.stats.lost == 0  # the check closed itself by settling the payment
    # the webhook arriving late changes nothing more
    await setup.service.refresh_payment(payment_id)
    async with setup.database.transaction() as session:
        ledger = table_of(LedgerTransactionRow)
        count = await session.scalar(sa.select(sa.func.count()).select_from(ledger))
    assert count == 2  # one PaymentSucceeded per order
    # the notification failed once, never held the payment back, and was retried
    assert await setup.job(notify_job_key(payment_id)) is JobState.QUEUED
    await setup.drain_for(600, 30)
    assert [sent.payment_id for sent in setup.notifier.sent] == [payment_id]
    assert await setup.job(notify_job_key(payment_id)) is JobState.DONE


async def test_an_open_circuit_fails_new_payments_over_to_the_next_provider(
    database_url: str,
) -> None:
    database = Database(database_url)
    try:
        first, second = FakeProvider("first"), FakeProvider("second")
        setup = build(database, [first, second])
        first.fail_with.extend(ProviderUnavailableError("503") for _ in range(3))
        for n in range(3):
            with pytest.raises(ProviderOutcomeUnknownError):
                await setup.service.create_payment(request(f"k{n}"), draft(), render)
        stored = await setup.service.create_payment(request("k-after"), draft(), render)
        payment = await setup.service.get_payment(json.loads(stored.body)["id"], client_id=None)
        assert payment.provider == "second"
        assert payment.status is PaymentStatus.PENDING
        # the first provider's queued registrations wait for its circuit, no attempt spent
        setup.advance(5)
        await setup.worker.drain()
        assert setup.worker.stats.deferred == 3
        assert len(first.calls) == 3
        setup.advance(30)  # half-open: a trial goes through and closes the circuit
        await setup.worker.drain()
        assert len(first.calls) >= 4
        assert setup.breakers.unavailable_reason("first") is None
    finally:
        await database.dispose()


async def test_with_no_provider_to_fail_over_to_new_payments_wait_for_the_circuit(
    setup: Setup,
) -> None:
    for _ in range(3):
        setup.breakers.record_failure("fake")
    calls = len(setup.provider.calls)
    with pytest.raises(ProviderOutcomeUnknownError) as raised:
        await setup.service.create_payment(request(), draft(), render)
    payment_id = raised.value.ids["payment_id"]
    assert len(setup.provider.calls) == calls  # nothing was sent to the failing provider
    assert await statuses(setup, payment_id) == {PaymentStatus.EXECUTING}
    async with PaymentStore(setup.database).begin() as uow:
        job = await uow.jobs.get_by_key(register_job_key(payment_id))
    assert job is not None
    assert (job.state, job.attempts) == (JobState.QUEUED, 0)
    assert job.next_run_at == START + timedelta(seconds=30)
    await setup.drain_for(29, 1)
    assert await statuses(setup, payment_id) == {PaymentStatus.EXECUTING}
    await setup.drain_for(2, 1)
    assert await statuses(setup, payment_id) == {PaymentStatus.PENDING}


@pytest.mark.postgres
async def test_webhook_buyer_return_and_janitor_racing_post_the_ledger_once(
    postgres_url: str,
) -> None:
    database = Database(postgres_url, pool_size=20)
    try:
        setup = build(database, [FakeProvider()])
        payment_ids = []
        for n in range(10):
            stored = await setup.service.create_payment(request(f"k{n}"), draft(), render)
            payment_ids.append(json.loads(stored.body)["id"])
        setup.provider.status = PaymentStatus.SUCCEEDED
        setup.advance(60)  # the janitor's first check is due
        tokens: dict[str, str] = {}
        for payment_id in payment_ids:
            payment = await setup.service.get_payment(payment_id, client_id=None)
            assert payment.registration is not None
            assert payment.registration.token is not None
            tokens[payment_id] = payment.registration.token

        async def webhook(payment_id: str, n: int) -> None:
            event = ProviderEvent(
                f"evt-{payment_id}-{n}", tokens[payment_id], PaymentStatus.SUCCEEDED
            )
            await setup.service.apply_provider_events("fake", [event])

        async def buyer_returns(payment_id: str) -> None:
            await setup.service.refresh_payment(payment_id)

        workers = [
            Worker(
                JobQueue(database),
                payment_job_handlers(setup.service, notifiers=[], clock=lambda: setup.now[0]),
                worker_id=f"w{i}",
                clock=lambda: setup.now[0],
            )
            for i in range(3)
        ]
        racers = [
            coroutine
            for payment_id in payment_ids
            for coroutine in (
                webhook(payment_id, 1),
                webhook(payment_id, 2),
                buyer_returns(payment_id),
                buyer_returns(payment_id),
            )
        ]
        await asyncio.gather(*racers, *(worker.drain() for worker in workers))
        for payment_id in payment_ids:
            assert await statuses(setup, payment_id) == {PaymentStatus.SUCCEEDED}
            assert await setup.job(check_job_key(payment_id)) is JobState.DONE
        async with database.transaction() as session:
            ledger = table_of(LedgerTransactionRow)
            count = await session.scalar(sa.select(sa.func.count()).select_from(ledger))
            outbox = table_of(OutboxEventRow)
            payloads = (await session.execute(sa.select(outbox.c.payload))).scalars().all()
        assert count == 2 * len(payment_ids)  # one PaymentSucceeded per order, no more
        succeeded = [p for p in payloads if json.loads(p).get("current") == "succeeded"]
        assert len(succeeded) == 2 * len(payment_ids)
    finally:
        await database.dispose()


async def test_money_paid_after_expiry_is_booked_once_and_refunded(setup: Setup) -> None:
    stored = await setup.service.create_payment(request(), draft(), render)
    payment_id = json.loads(stored.body)["id"]
    await setup.drain_for(200, 10)
    assert await statuses(setup, payment_id) == {PaymentStatus.EXPIRED}
    payment = await setup.service.get_payment(payment_id, client_id=None)
    assert payment.registration is not None
    assert payment.registration.token is not None
    late = ProviderEvent("late-1", payment.registration.token, PaymentStatus.SUCCEEDED)
    again = ProviderEvent("late-2", payment.registration.token, PaymentStatus.SUCCEEDED)
    assert (await setup.service.apply_provider_events("fake", [late])).unchanged == 1
    assert (await setup.service.apply_provider_events("fake", [again])).unchanged == 1
    assert await statuses(setup, payment_id) == {PaymentStatus.EXPIRED}  # orders stay expired

    async def ledger() -> dict[str, int]:
        async with setup.database.transaction() as session:
            rows = await session.execute(
                sa.text(
                    "SELECT a.purpose, sum(p.amount_minor) FROM ledger_posting p "
                    "JOIN ledger_account a ON a.id = p.account_id GROUP BY a.purpose"
                )
            )
            return {purpose: int(total) for purpose, total in rows}

    async def kinds() -> list[str]:
        async with setup.database.transaction() as session:
            found = await session.execute(sa.text("SELECT kind FROM ledger_transaction"))
            return sorted(found.scalars())

    assert await kinds() == ["late_payment_received"]  # once, for both reports
    booked = await ledger()
    assert booked["late_payments"] == -1500  # a liability: owed to the buyer
    assert booked["psp_clearing"] == 1500
    async with setup.database.transaction() as session:
        outbox = table_of(OutboxEventRow)
        topics = (await session.execute(sa.select(outbox.c.topic))).scalars().all()
    assert topics.count("payment.paid_after_expiry") == 1
    await setup.worker.drain()
    refund_calls = [call for call in setup.provider.calls if call.startswith("refund:")]
    assert len(refund_calls) == 1
    refund = await RefundService(
        store=PaymentStore(setup.database), providers=ProviderRegistry([setup.provider]),
        lock_seconds=60,
    ).get_refund(late_refund_id(payment_id), client_id="c1")  # fmt: skip
    assert refund.status is RefundStatus.SUCCEEDED
    assert refund.amount == Money(1500, "EUR")
    assert refund.parts == ()
    assert await kinds() == ["late_payment_received", "late_payment_refunded"]
    settled = await ledger()
    assert settled["late_payments"] == 0
    assert settled["psp_clearing"] == 0
    assert sum(settled.values()) == 0


async def test_a_late_payment_a_provider_cannot_refund_is_dead_lettered_at_once(
    setup: Setup,
) -> None:
    setup.provider.features = frozenset()  # no refunds
    stored = await setup.service.create_payment(request(), draft(), render)
    payment_id = json.loads(stored.body)["id"]
    await setup.drain_for(200, 10)
    payment = await setup.service.get_payment(payment_id, client_id=None)
    assert payment.registration is not None
    assert payment.registration.token is not None
    late = ProviderEvent("late-1", payment.registration.token, PaymentStatus.SUCCEEDED)
    await setup.service.apply_provider_events("fake", [late])
    await setup.worker.drain()
    [dead] = await JobQueue(setup.database).dead_letters()
    assert dead.kind == "refund_late_payment"
    assert dead.attempts == 0
    assert "cannot refund" in (dead.last_error or "")
    assert not [call for call in setup.provider.calls if call.startswith("refund:")]


async def test_late_payments_on_hold_are_booked_and_announced_but_not_refunded(
    database_url: str,
) -> None:
    database = Database(database_url)
    try:
        setup = build(database, [FakeProvider()], refund_late_payments=False)
        stored = await setup.service.create_payment(request(), draft(), render)
        payment_id = json.loads(stored.body)["id"]
        await setup.drain_for(200, 10)
        payment = await setup.service.get_payment(payment_id, client_id=None)
        assert payment.registration is not None
        assert payment.registration.token is not None
        late = ProviderEvent("late-1", payment.registration.token, PaymentStatus.SUCCEEDED)
        await setup.service.apply_provider_events("fake", [late])
        await setup.worker.drain()
        async with database.transaction() as session:
            outbox = table_of(OutboxEventRow)
            rows = (
                await session.execute(
                    sa.select(outbox.c.payload).where(outbox.c.topic == "payment.paid_after_expiry")
                )
            ).scalars()
            [announced] = [json.loads(row) for row in rows]
            kinds = (
                await session.execute(sa.text("SELECT kind FROM ledger_transaction"))
            ).scalars()
            assert list(kinds) == ["late_payment_received"]
        assert announced["action"] == "hold"
        assert announced["amount_minor"] == 1500
        assert await setup.job(f"refund_late_payment:{payment_id}") is None
        assert not [call for call in setup.provider.calls if call.startswith("refund:")]
    finally:
        await database.dispose()
