"""The consumer helper runs a handler once per event id and consumer."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from paymux.core.events import CloudEvent
from paymux.core.events_consumer import Deduplicator, consumed_event


async def drop_helper_table(dedup: Deduplicator) -> None:
    """Leave the shared test database as the migrations made it."""
    async with dedup._engine.begin() as connection:
        await connection.run_sync(consumed_event.drop, checkfirst=True)


@pytest.fixture
async def dedup(database_url: str) -> AsyncIterator[Deduplicator]:
    helper = Deduplicator(database_url)
    yield helper
    await drop_helper_table(helper)
    await helper.aclose()


def event(identifier: str) -> CloudEvent:
    return CloudEvent(
        id=identifier,
        source="paymux",
        type="paymux.payment.created.v1",
        subject="pay_1",
        time=datetime(2026, 1, 1, tzinfo=UTC).isoformat(),
        data={"payment_id": "pay_1"},
    )


async def test_a_handled_event_is_not_handled_again(dedup: Deduplicator) -> None:
    consumer = f"analytics-{uuid.uuid4().hex}"
    handled: list[str] = []

    async def handler(e: CloudEvent) -> None:
        handled.append(e.id)

    first = event(f"evt_{uuid.uuid4().hex}")
    assert await dedup.handle(consumer, first, handler)
    assert not await dedup.handle(consumer, first, handler)
    assert await dedup.seen(consumer, first)
    assert await dedup.handle(f"billing-{uuid.uuid4().hex}", first, handler)  # other consumer
    assert handled == [first.id, first.id]


async def test_a_failing_handler_runs_again(dedup: Deduplicator) -> None:
    consumer = f"marketing-{uuid.uuid4().hex}"
    decoded: dict[str, Any] = {"id": f"evt_{uuid.uuid4().hex}", "type": "paymux.x.v1"}
    calls = 0

    async def handler(e: dict[str, Any]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        await dedup.handle(consumer, decoded, handler)
    assert not await dedup.seen(consumer, decoded)
    assert await dedup.handle(consumer, decoded, handler)
    assert not await dedup.handle(consumer, decoded, handler)
    assert calls == 2
    with pytest.raises(ValueError, match="no CloudEvents id"):
        await dedup.handle(consumer, {"type": "no id"}, handler)


async def test_handle_in_transaction_commits_with_the_record(database_url: str) -> None:
    metadata = sa.MetaData()
    sales = sa.Table(f"sales_{uuid.uuid4().hex[:8]}", metadata, sa.Column("id", sa.String(64)))
    dedup = Deduplicator(database_url)
    consumer = f"analytics-{uuid.uuid4().hex}"
    e = event(f"evt_{uuid.uuid4().hex}")

    async def failing(connection: AsyncConnection, e: CloudEvent) -> None:
        await connection.execute(sa.insert(sales).values(id=e.id))
        raise RuntimeError("crash after writing")

    async def writing(connection: AsyncConnection, e: CloudEvent) -> None:
        await connection.execute(sa.insert(sales).values(id=e.id))

    try:
        await dedup.seen(consumer, e)  # creates the helper's table
        engine = dedup._engine  # the test's own table, in the same database
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        with pytest.raises(RuntimeError):
            await dedup.handle_in_transaction(consumer, e, failing)
        assert not await dedup.seen(consumer, e)
        assert await dedup.handle_in_transaction(consumer, e, writing)
        assert not await dedup.handle_in_transaction(consumer, e, writing)
        async with engine.connect() as connection:
            rows = (await connection.execute(sa.select(sales.c.id))).all()
            assert [r[0] for r in rows] == [e.id]
        async with engine.begin() as connection:
            await connection.run_sync(metadata.drop_all)
    finally:
        await drop_helper_table(dedup)
        await dedup.aclose()
