"""The payment use cases against a real database and a fake provider."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from paymux.core.domain.checkout import CheckoutDraft, OrderDraft
from paymux.core.domain.errors import (
    IdempotencyKeyInUseError,
    IdempotencyKeyReusedError,
    NoProviderError,
    ProviderOutcomeUnknownError,
)
from paymux.core.domain.models import OrderStatusChange, PaymentEvent
from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import ProviderEvent, ProviderRejectedError, ProviderTimeoutError
from paymux.core.providers import ProviderRegistry
from paymux.core.services.idempotency import IdempotentRequest
from paymux.core.services.payments import PaymentService
from paymux.core.storage.database import Database
from paymux.core.storage.tables import IdempotencyKeyRow, PspRegistrationRow, table_of
from paymux.core.storage.unit_of_work import PaymentStore
from paymux.currencies import Money
from paymux_fakes import FakeProvider
from paymux_test_support import count_rows


@dataclass
class Harness:
    service: PaymentService
    provider: FakeProvider
    database: Database
    changes: list[OrderStatusChange]
    clock: list[datetime]


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    database = Database(database_url)
    provider = FakeProvider()
    changes: list[OrderStatusChange] = []
    clock = [datetime(2026, 11, 24, 12, 0, tzinfo=UTC)]
    service = PaymentService(
        store=PaymentStore(database),
        providers=ProviderRegistry([provider]),
        buyer_return_url=lambda payment: f"https://paymux.example/checkout/{payment.id}",
        lock_seconds=60,
        on_status_changed=changes.append,
        clock=lambda: clock[0],
    )
    yield Harness(service, provider, database, changes, clock)
    await database.dispose()


def draft(currency: str = "EUR") -> CheckoutDraft:
    def eur(minor: int) -> Money:
        return Money(minor, currency)

    return CheckoutDraft(
        buyer_id="b1",
        currency=currency,
        country="DE",
        payment_method="card",
        return_url="https://shop.example/back",
        orders=(
            OrderDraft("s1", eur(1000), eur(100), eur(50), "o1"),
            OrderDraft("s2", eur(500), eur(0), eur(0), "o2"),
        ),
    )


def render(payment: PaymentEvent) -> str:
    return json.dumps({"id": payment.id, "status": payment.status.value})


def request(key: str = "k1", fingerprint: str = "f1") -> IdempotentRequest:
    return IdempotentRequest(client_id="c1", key=key, fingerprint=fingerprint)


async def test_create_registers_once_and_stores_the_response(
    harness: Harness, database_url: str
) -> None:
    stored = await harness.service.create_payment(request(), draft(), render)
    assert stored.status == 201
    assert not stored.replayed
    payment_id = json.loads(stored.body)["id"]
    payment = await harness.service.get_payment(payment_id, client_id="c1")
    assert payment.status is PaymentStatus.PENDING
    assert payment.total == Money(1500, "EUR")
    assert payment.registration is not None
    assert payment.registration.token == "tok_0"
    replay = await harness.service.create_payment(request(), draft(), render)
    assert replay.replayed
    assert replay.body == stored.body
    assert len(harness.provider.calls) == 1
    # payment.created plus one status change per order, written with the changes
    assert count_rows(database_url)["outbox_event"] == 3
    assert [c.current for c in harness.changes] == [PaymentStatus.PENDING] * 2


async def test_other_fingerprint_is_refused(harness: Harness) -> None:
    await harness.service.create_payment(request(), draft(), render)
    with pytest.raises(IdempotencyKeyReusedError):
        await harness.service.create_payment(request(fingerprint="f2"), draft(), render)


async def test_no_provider_writes_nothing(harness: Harness, database_url: str) -> None:
    with pytest.raises(NoProviderError):
        await harness.service.create_payment(request(), draft("USD"), render)
    assert set(count_rows(database_url).values()) == {0}


async def test_rejected_registration_fails_the_orders_and_is_stored(harness: Harness) -> None:
    harness.provider.fail_with.append(ProviderRejectedError("no", code="invalid_currency"))
    stored = await harness.service.create_payment(request(), draft(), render)
    assert json.loads(stored.body)["status"] == "failed"
    payment = await harness.service.get_payment(json.loads(stored.body)["id"], client_id="c1")
    assert {o.failure_code for o in payment.orders} == {"invalid_currency"}
    again = await harness.service.create_payment(request(), draft(), render)
    assert again.replayed
    assert len(harness.provider.calls) == 1


async def test_timeout_then_retry_resumes_with_the_same_psp_key(harness: Harness) -> None:
    harness.provider.fail_with.append(ProviderTimeoutError("slow"))
    with pytest.raises(ProviderOutcomeUnknownError) as raised:
        await harness.service.create_payment(request(), draft(), render)
    payment = await harness.service.get_payment(raised.value.ids["payment_id"], client_id="c1")
    assert payment.status is PaymentStatus.UNKNOWN
    stored = await harness.service.create_payment(request(), draft(), render)
    assert json.loads(stored.body) == {"id": raised.value.ids["payment_id"], "status": "pending"}
    assert len(harness.provider.calls) == 2
    assert harness.provider.calls[0] == harness.provider.calls[1]


async def test_in_flight_key_is_409_until_its_lock_goes_stale(
    harness: Harness, database_url: str
) -> None:
    stored = await harness.service.create_payment(request(), draft(), render)
    payment_id = json.loads(stored.body)["id"]
    # Simulate a crash after the payment was written but before the provider answered.
    async with harness.database.transaction() as session:
        await session.execute(
            sa.update(table_of(IdempotencyKeyRow)).values(
                response_status=None, response_body=None, locked_at=harness.clock[0]
            )
        )
        await session.execute(sa.update(table_of(PspRegistrationRow)).values(token=None))
    with pytest.raises(IdempotencyKeyInUseError):
        await harness.service.create_payment(request(), draft(), render)
    harness.clock[0] += timedelta(seconds=61)
    resumed = await harness.service.create_payment(request(), draft(), render)
    assert json.loads(resumed.body)["id"] == payment_id
    assert harness.provider.calls[0] == harness.provider.calls[1]


async def test_refresh_applies_what_the_provider_reports(harness: Harness) -> None:
    stored = await harness.service.create_payment(request(), draft(), render)
    payment_id = json.loads(stored.body)["id"]
    harness.provider.status = PaymentStatus.SUCCEEDED
    refreshed = await harness.service.refresh_payment(payment_id)
    assert refreshed.status is PaymentStatus.SUCCEEDED
    harness.provider.status = PaymentStatus.PENDING
    assert (await harness.service.refresh_payment(payment_id)).status is PaymentStatus.SUCCEEDED


async def test_provider_events_apply_once(harness: Harness) -> None:
    stored = await harness.service.create_payment(request(), draft(), render)
    payment_id = json.loads(stored.body)["id"]
    event = ProviderEvent(
        event_id="e1", token="tok_0", status=PaymentStatus.FAILED, failure_code="x"
    )
    first = await harness.service.apply_provider_events("fake", [event])
    assert (first.applied, first.duplicates) == (1, 0)
    second = await harness.service.apply_provider_events("fake", [event])
    assert (second.applied, second.duplicates) == (0, 1)
    payment = await harness.service.get_payment(payment_id, client_id="c1")
    assert {o.status for o in payment.orders} == {PaymentStatus.FAILED}
    assert {o.failure_code for o in payment.orders} == {"x"}


async def test_a_failing_observer_does_not_undo_the_change(
    harness: Harness, database_url: str
) -> None:
    def explode(change: OrderStatusChange) -> None:
        raise RuntimeError("observer bug")

    service = PaymentService(
        store=PaymentStore(harness.database),
        providers=ProviderRegistry([harness.provider]),
        buyer_return_url=lambda payment: "https://x.example",
        lock_seconds=60,
        on_status_changed=explode,
    )
    stored = await service.create_payment(request(), draft(), render)
    assert json.loads(stored.body)["status"] == "pending"


async def test_clients_do_not_see_each_others_payments(harness: Harness) -> None:
    stored = await harness.service.create_payment(request(), draft(), render)
    payment_id = json.loads(stored.body)["id"]
    from paymux.core.domain.errors import PaymentNotFoundError

    with pytest.raises(PaymentNotFoundError):
        await harness.service.get_payment(payment_id, client_id="c2")
