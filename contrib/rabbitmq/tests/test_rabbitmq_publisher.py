"""The RabbitMQ publisher against a real RabbitMQ (skipped without one, failed without one
under ``PAYMUX_REQUIRE_BROKERS=1``)."""

from __future__ import annotations

import json
from datetime import datetime

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractIncomingMessage, AbstractQueue
from aio_pika.exceptions import AMQPConnectionError, ChannelNotFoundEntity, PublishError

from paymux.core.outbox_relay import OutboxRelay
from paymux.core.outbox_relay import PublishError as RelayPublishError
from paymux.core.storage.database import Database
from paymux.core.storage.outbox_repository import OutboxRepository
from paymux_broker_support import add_outbox_rows, closed_port, sample_events
from paymux_rabbitmq import RabbitMQPublisher, RabbitMQSettings, plugin


async def drain(queue: AbstractQueue) -> list[AbstractIncomingMessage]:
    """Every message waiting in ``queue``, in order, acknowledged."""
    messages = []
    while (message := await queue.get(fail=False, timeout=5)) is not None:
        await message.ack()
        messages.append(message)
    return messages


@pytest.mark.brokers
async def test_publishes_a_batch_in_order_persistent_with_ids(
    rabbitmq_settings: RabbitMQSettings, queue: AbstractQueue
) -> None:
    publisher = RabbitMQPublisher(rabbitmq_settings)
    batch = sample_events()
    try:
        await publisher.publish(batch)
    finally:
        await publisher.aclose()

    messages = await drain(queue)
    assert [m.message_id for m in messages] == [event.id for event in batch]
    assert [m.routing_key for m in messages] == [event.type for event in batch]
    assert [m.type for m in messages] == [event.type for event in batch]
    assert [json.loads(m.body) for m in messages] == [event.to_dict() for event in batch]
    assert {m.delivery_mode for m in messages} == {aio_pika.DeliveryMode.PERSISTENT}
    assert {m.content_type for m in messages} == {"application/cloudevents+json"}
    assert [m.headers["ce_subject"] for m in messages] == ["pay_a", "pay_b", "pay_a", "seller_1"]
    assert messages[0].app_id == "paymux"
    assert messages[0].timestamp == datetime.fromisoformat(batch[0].time)


@pytest.mark.brokers
async def test_consumers_bind_the_types_they_want(
    rabbitmq_settings: RabbitMQSettings,
    channel: AbstractChannel,
    exchange: AbstractExchange,
    queue: AbstractQueue,
) -> None:
    refunds = await channel.declare_queue(exclusive=True)
    await refunds.bind(exchange, "paymux.refund.*.v1")
    publisher = RabbitMQPublisher(rabbitmq_settings)
    try:
        await publisher.publish(sample_events())
    finally:
        await publisher.aclose()
    assert [m.routing_key for m in await drain(refunds)] == ["paymux.refund.created.v1"]
    assert len(await drain(queue)) == 4


@pytest.mark.brokers
async def test_an_unroutable_event_fails_the_batch_until_a_queue_is_bound(
    rabbitmq_settings: RabbitMQSettings, channel: AbstractChannel, exchange: AbstractExchange
) -> None:
    publisher = RabbitMQPublisher(rabbitmq_settings)
    batch = sample_events()
    try:
        with pytest.raises(PublishError, match="NO_ROUTE"):
            await publisher.publish(batch)
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchange, "#")
        await publisher.publish(batch)  # the relay's retry: a new connection, now routable
    finally:
        await publisher.aclose()
    assert [m.message_id for m in await drain(queue)] == [event.id for event in batch]


@pytest.mark.brokers
async def test_without_mandatory_an_unroutable_event_is_dropped(
    rabbitmq_settings: RabbitMQSettings,
) -> None:
    publisher = RabbitMQPublisher(rabbitmq_settings.model_copy(update={"mandatory": False}))
    try:
        await publisher.publish(sample_events())  # confirmed, though no queue holds it
    finally:
        await publisher.aclose()


@pytest.mark.brokers
async def test_a_missing_exchange_fails_when_not_declared(
    rabbitmq_settings: RabbitMQSettings,
) -> None:
    settings = rabbitmq_settings.model_copy(update={"declare_exchange": False})
    publisher = RabbitMQPublisher(settings)
    try:
        with pytest.raises(ChannelNotFoundEntity):
            await publisher.publish(sample_events())
    finally:
        await publisher.aclose()


async def test_an_unreachable_broker_raises_every_time() -> None:
    settings = RabbitMQSettings(url=f"amqp://guest:guest@127.0.0.1:{closed_port()}/")
    publisher = RabbitMQPublisher(settings)
    for _ in range(2):  # the relay retries: each attempt connects again
        with pytest.raises(AMQPConnectionError):
            await publisher.publish(sample_events())
    await publisher.aclose()


@pytest.mark.brokers
async def test_the_relay_delivers_outbox_rows_to_a_queue(
    sqlite_url: str, rabbitmq_settings: RabbitMQSettings, queue: AbstractQueue
) -> None:
    """End to end: outbox rows on SQLite -> the real relay -> RabbitMQ -> a queue. The first
    relay cannot reach the broker: it raises and publishes nothing."""
    database = Database(sqlite_url)
    outbox = OutboxRepository(database)
    try:
        await add_outbox_rows(database)
        unreachable = RabbitMQPublisher(
            RabbitMQSettings(url=f"amqp://guest:guest@127.0.0.1:{closed_port()}/")
        )
        with pytest.raises(RelayPublishError, match="rabbitmq"):
            await OutboxRelay(database, [unreachable]).drain()
        await unreachable.aclose()
        assert await outbox.pending_count() == 4

        relay = OutboxRelay(database, [RabbitMQPublisher(rabbitmq_settings)], batch_size=3)
        try:
            assert await relay.drain() == 4
        finally:
            await relay.aclose()
        assert await outbox.pending_count() == 0
    finally:
        await database.dispose()

    messages = await drain(queue)
    envelopes = [json.loads(m.body) for m in messages]
    assert [(e["type"], e["subject"]) for e in envelopes] == [
        ("paymux.payment.created.v1", "pay_a"),
        ("paymux.payment.created.v1", "pay_b"),
        ("paymux.refund.created.v1", "pay_a"),
        ("paymux.payout.created.v1", "seller_1"),
    ]
    assert [m.message_id for m in messages] == [e["id"] for e in envelopes]
    assert envelopes[2]["data"]["note"] == "ünïcode"


def test_the_plugin_offers_nothing_until_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAYMUX_RABBITMQ__URL", raising=False)
    assert plugin.paymux_add_publishers() == []


def test_the_plugin_reads_its_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMUX_RABBITMQ__URL", "amqps://relay:pw@mq.example:5671/payments")
    monkeypatch.setenv("PAYMUX_RABBITMQ__EXCHANGE", "acme.events")
    monkeypatch.setenv("PAYMUX_RABBITMQ__MANDATORY", "false")
    [publisher] = plugin.paymux_add_publishers()
    assert isinstance(publisher, RabbitMQPublisher)
    assert publisher.name == "rabbitmq"
    assert publisher.settings.exchange == "acme.events"
    assert publisher.settings.mandatory is False
