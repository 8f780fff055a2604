"""The outbox relay: order per key, marks after publishing, retries after failures."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from paymux.core.domain.models import OutboxMessage
from paymux.core.events import CloudEvent
from paymux.core.events_publishers import LogPublisher, Publisher, choose_publishers
from paymux.core.outbox_relay import OutboxRelay, PublishError
from paymux.core.storage.database import Database
from paymux.core.storage.outbox_repository import OutboxRepository
from paymux.core.storage.unit_of_work import PaymentStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class RecordingPublisher:
    """Keeps what it was given; fails the next ``failures`` calls; may be slow."""

    name = "recording"

    def __init__(
        self, *, failures: int = 0, delay: float = 0.0, sink: list[CloudEvent] | None = None
    ) -> None:
        self.events: list[CloudEvent] = [] if sink is None else sink
        self.failures = failures
        self.delay = delay
        self.closed = False

    async def publish(self, events: Sequence[CloudEvent]) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failures:
            self.failures -= 1
            raise ConnectionError("broker down")
        self.events.extend(events)

    async def aclose(self) -> None:
        self.closed = True


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    yield db
    await db.dispose()


async def add(db: Database, at: datetime, *messages: tuple[str, str]) -> None:
    """Write ``(topic, key)`` events in one transaction at time ``at``."""
    async with PaymentStore(db).begin() as uow:
        await uow.add_outbox(
            [OutboxMessage(topic, key, {"n": i}) for i, (topic, key) in enumerate(messages)],
            now=at,
        )


async def seed(db: Database) -> None:
    await add(db, T0, ("payment.created", "pay_a"))
    await add(db, T0 + timedelta(seconds=1), ("payment.created", "pay_b"))
    refunds = (("refund.created", "pay_a"), ("refund.failed", "pay_a"))
    await add(db, T0 + timedelta(seconds=2), *refunds)
    await add(db, T0 + timedelta(seconds=3), ("payout.created", "seller_1"))
    await add(db, T0 + timedelta(seconds=4), ("refund.created", "pay_b"))


async def test_publishes_everything_in_order_and_marks_it(database: Database) -> None:
    await seed(database)
    publisher = RecordingPublisher()
    relay = OutboxRelay(database, [publisher], batch_size=2)
    assert await relay.drain() == 6
    types = [(e.subject, e.type) for e in publisher.events]
    assert types == [
        ("pay_a", "paymux.payment.created.v1"),
        ("pay_b", "paymux.payment.created.v1"),
        ("pay_a", "paymux.refund.created.v1"),
        ("pay_a", "paymux.refund.failed.v1"),
        ("seller_1", "paymux.payout.created.v1"),
        ("pay_b", "paymux.refund.created.v1"),
    ]
    assert [e.data["n"] for e in publisher.events[2:4]] == [0, 1]  # order within a transaction
    assert await OutboxRepository(database).pending_count() == 0
    assert await relay.drain() == 0
    assert len(publisher.events) == 6


async def test_a_failing_publisher_leaves_everything_unpublished(database: Database) -> None:
    await seed(database)
    good = RecordingPublisher()
    flaky = RecordingPublisher(failures=1)
    relay = OutboxRelay(database, [good, flaky], batch_size=10)
    with pytest.raises(PublishError, match="broker down"):
        await relay.drain()
    assert await OutboxRepository(database).pending_count() == 6
    assert await relay.drain() == 6
    assert [e.id for e in flaky.events] == [e.id for e in good.events[6:]]  # at least once
    assert await OutboxRepository(database).pending_count() == 0


async def test_run_backs_off_retries_and_stops(database: Database) -> None:
    await seed(database)
    publisher = RecordingPublisher(failures=2)
    relay = OutboxRelay(database, [publisher])
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(interval=0.01, max_backoff=0.02, stop=stop))
    for _ in range(500):
        if len(publisher.events) == 6:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    await relay.aclose()
    assert len(publisher.events) == 6
    assert publisher.closed


async def test_log_publisher_logs_one_json_line_per_event(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    await add(database, T0, ("payment.created", "pay_a"), ("payment.created", "pay_b"))
    caplog.set_level(logging.INFO, logger="paymux.events")
    relay = OutboxRelay(database, [LogPublisher()], source="test")
    assert await relay.drain() == 2
    lines = [r.getMessage() for r in caplog.records if r.name == "paymux.events"]
    assert len(lines) == 2
    assert '"source":"test"' in lines[0]
    assert '"subject":"pay_a"' in lines[0]


def test_choose_publishers() -> None:
    plugin: Publisher = RecordingPublisher()
    assert [p.name for p in choose_publishers([])] == ["log"]
    assert choose_publishers([plugin]) == [plugin]
    assert [p.name for p in choose_publishers([plugin], log_publisher="always")] == [
        "recording",
        "log",
    ]
    with pytest.raises(ValueError, match="no event publisher"):
        choose_publishers([], log_publisher="never")
    assert isinstance(plugin, Publisher)


async def test_one_relay_instance_does_not_overlap_itself(database: Database) -> None:
    await seed(database)
    publisher = RecordingPublisher(delay=0.05)
    relay = OutboxRelay(database, [publisher], batch_size=3)
    first, second = await asyncio.gather(relay.publish_batch(), relay.publish_batch())
    assert sorted([first or 0, second or 0]) == [0, 3]
    assert None in (first, second)


@pytest.mark.postgres
async def test_two_relays_on_postgresql_take_turns(postgres_url: str) -> None:
    setup = Database(postgres_url)
    await seed(setup)
    for i in range(20):
        await add(setup, T0 + timedelta(seconds=10 + i), ("payment.created", f"pay_{i % 3}"))
    await setup.dispose()
    databases = [Database(postgres_url), Database(postgres_url)]
    published: list[CloudEvent] = []  # both relays' publications, in the order they happened
    publishers = [RecordingPublisher(delay=0.02, sink=published) for _ in databases]
    relays = [
        OutboxRelay(db, [p], batch_size=4) for db, p in zip(databases, publishers, strict=True)
    ]

    deadline = asyncio.get_running_loop().time() + 30

    async def keep_relaying(relay: OutboxRelay) -> None:
        # Until everything is out (not a fixed number of turns: a loaded machine may let one
        # relay hold the lock for many of the other's turns).
        while len(published) < 26 and asyncio.get_running_loop().time() < deadline:
            await relay.publish_batch()
            await asyncio.sleep(0.001)
        for _ in range(3):  # a few more turns: nothing may come out twice
            await relay.publish_batch()

    await asyncio.gather(*(keep_relaying(r) for r in relays))
    for db in databases:
        await db.dispose()
    assert len(published) == 26
    assert len({e.id for e in published}) == 26  # nothing twice
    assert published == sorted(published, key=lambda e: (e.time, e.id))  # never out of order
