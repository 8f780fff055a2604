"""The Kafka publisher, through FastStream's ``TestKafkaBroker`` (no Kafka runs here).

The harness replaces the producer: these tests prove what the publisher sends (topic, key,
headers, value, order), not a real cluster's acknowledgement. The failure test uses a real
connection attempt to a closed port.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaConnectionError, KafkaError
from faststream.kafka import KafkaBroker, KafkaMessage, TestKafkaBroker
from faststream.security import SASLScram512
from pydantic import SecretStr, ValidationError

from paymux.app.runtime import create_relay
from paymux.core.outbox_relay import OutboxRelay, PublishError
from paymux.core.plugins import create_plugin_manager
from paymux.core.settings import Settings
from paymux.core.storage.database import Database
from paymux.core.storage.outbox_repository import OutboxRepository
from paymux_broker_support import add_outbox_rows, closed_port, sample_events
from paymux_kafka import KafkaPublisher, KafkaSettings, build_broker, plugin

TOPIC = "paymux.test-events"


def collecting(broker: KafkaBroker, topic: str = TOPIC) -> list[ConsumerRecord[bytes, bytes]]:
    """Subscribe to ``topic`` on ``broker``; the list fills with the raw records."""
    records: list[ConsumerRecord[bytes, bytes]] = []

    @broker.subscriber(topic)
    async def collect(body: bytes, message: KafkaMessage) -> None:
        records.append(message.raw_message)

    return records


async def test_publishes_a_batch_in_order_keyed_by_subject() -> None:
    publisher = KafkaPublisher(KafkaSettings(bootstrap_servers="127.0.0.1:9092", topic=TOPIC))
    records = collecting(publisher.broker)
    batch = sample_events()
    async with TestKafkaBroker(publisher.broker):
        await publisher.publish(batch)

    assert [record.topic for record in records] == [TOPIC] * 4
    assert [record.key for record in records] == [b"pay_a", b"pay_b", b"pay_a", b"seller_1"]
    assert [json.loads(record.value or b"") for record in records] == [
        event.to_dict() for event in batch
    ]
    headers = [{k: v.decode() for k, v in record.headers} for record in records]
    assert [h["ce_id"] for h in headers] == [event.id for event in batch]
    assert [h["ce_type"] for h in headers] == [
        "paymux.payment.created.v1",
        "paymux.payment.created.v1",
        "paymux.refund.created.v1",
        "paymux.payout.created.v1",
    ]
    assert {h["content-type"] for h in headers} == {"application/cloudevents+json"}
    assert [h["ce_subject"] for h in headers] == ["pay_a", "pay_b", "pay_a", "seller_1"]
    assert [h["correlation_id"] for h in headers] == [event.id for event in batch]


async def test_publish_returns_only_when_every_record_is_acknowledged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a real producer each send gives a future (its acknowledgement): the batch is
    queued first, then every acknowledgement is awaited; a failed one fails the batch."""
    publisher = KafkaPublisher(KafkaSettings(bootstrap_servers="127.0.0.1:9092"))
    loop = asyncio.get_running_loop()
    acknowledgements: list[asyncio.Future[None]] = []

    async def connect() -> None:
        return None

    async def publish(*args: object, no_confirm: bool, **kwargs: object) -> asyncio.Future[None]:
        assert no_confirm  # queued, not awaited one by one
        acknowledgements.append(loop.create_future())
        return acknowledgements[-1]

    monkeypatch.setattr(publisher.broker, "connect", connect)
    monkeypatch.setattr(publisher.broker, "publish", publish)
    task = asyncio.create_task(publisher.publish(sample_events()))
    for _ in range(10):
        await asyncio.sleep(0)
    assert len(acknowledgements) == 4
    for acknowledgement in acknowledgements[:3]:
        acknowledgement.set_result(None)
    for _ in range(10):
        await asyncio.sleep(0)
    assert not task.done()
    acknowledgements[3].set_exception(KafkaError("NOT_ENOUGH_REPLICAS"))
    with pytest.raises(KafkaError, match="NOT_ENOUGH_REPLICAS"):
        await task


async def test_an_empty_batch_sends_nothing() -> None:
    publisher = KafkaPublisher(KafkaSettings(bootstrap_servers="127.0.0.1:9092", topic=TOPIC))
    records = collecting(publisher.broker)
    async with TestKafkaBroker(publisher.broker):
        await publisher.publish([])
    assert records == []


async def test_an_unreachable_cluster_raises_every_time() -> None:
    settings = KafkaSettings(bootstrap_servers=f"127.0.0.1:{closed_port()}", topic=TOPIC)
    publisher = KafkaPublisher(settings)
    for _ in range(2):  # the relay retries: the next attempt connects again
        with pytest.raises(KafkaConnectionError):
            await publisher.publish(sample_events())
    await publisher.aclose()


async def test_the_relay_delivers_outbox_rows_through_the_publisher(sqlite_url: str) -> None:
    database = Database(sqlite_url)
    try:
        await add_outbox_rows(database)
        failing = KafkaPublisher(KafkaSettings(bootstrap_servers=f"127.0.0.1:{closed_port()}"))
        with pytest.raises(PublishError, match="kafka"):
            await OutboxRelay(database, [failing]).drain()
        await failing.aclose()
        assert await OutboxRepository(database).pending_count() == 4

        publisher = KafkaPublisher(KafkaSettings(bootstrap_servers="127.0.0.1:9092", topic=TOPIC))
        records = collecting(publisher.broker)
        relay = OutboxRelay(database, [publisher])
        async with TestKafkaBroker(publisher.broker):
            assert await relay.drain() == 4
        assert await OutboxRepository(database).pending_count() == 0
        assert [record.key for record in records] == [b"pay_a", b"pay_b", b"pay_a", b"seller_1"]
        values = [json.loads(record.value or b"") for record in records]
        assert [value["type"] for value in values] == [
            "paymux.payment.created.v1",
            "paymux.payment.created.v1",
            "paymux.refund.created.v1",
            "paymux.payout.created.v1",
        ]
        assert values[2]["data"]["note"] == "ünïcode"
        headers = [dict(record.headers) for record in records]
        assert [h["ce_id"].decode() for h in headers] == [value["id"] for value in values]
    finally:
        await database.dispose()


def test_the_plugin_offers_nothing_until_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAYMUX_KAFKA__BOOTSTRAP_SERVERS", raising=False)
    assert plugin.paymux_add_publishers() == []


def test_the_plugin_reads_its_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMUX_KAFKA__BOOTSTRAP_SERVERS", "k1:9092, k2:9092")
    monkeypatch.setenv("PAYMUX_KAFKA__TOPIC", "payments")
    [publisher] = plugin.paymux_add_publishers()
    assert isinstance(publisher, KafkaPublisher)
    assert publisher.name == "kafka"
    assert publisher.settings.servers == ["k1:9092", "k2:9092"]
    assert publisher.settings.topic == "payments"


async def test_the_relay_finds_the_plugin_by_its_entry_point(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    monkeypatch.setenv("PAYMUX_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    manager = create_plugin_manager()
    assert manager.get_plugin("kafka") is plugin
    relay = create_relay(Settings(database_url=sqlite_url), plugin_manager=manager)
    try:
        names = [publisher.name for publisher in relay.publishers]
        assert "kafka" in names
        assert "log" not in names  # a broker is offered: no log publisher by default
    finally:
        await relay.aclose()
        await relay.database.dispose()


def test_settings_validate_the_topic_and_sasl() -> None:
    with pytest.raises(ValidationError):
        KafkaSettings(bootstrap_servers="k:9092", topic="two words")
    with pytest.raises(ValidationError, match="sasl_username"):
        KafkaSettings(bootstrap_servers="k:9092", sasl_mechanism="PLAIN")
    assert not KafkaSettings(bootstrap_servers=" , ").configured


def test_the_broker_is_idempotent_with_acks_all_and_sasl() -> None:
    settings = KafkaSettings(
        bootstrap_servers="k:9093",
        tls=True,
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="relay",
        sasl_password=SecretStr("s3cret-pw"),
    )
    broker = build_broker(settings)
    kwargs = broker._connection_kwargs
    assert kwargs["acks"] == "all"
    assert kwargs["enable_idempotence"] is True
    assert kwargs["bootstrap_servers"] == ["k:9093"]
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert kwargs["security_protocol"] == "SASL_SSL"
    assert kwargs["sasl_plain_username"] == "relay"
    assert isinstance(broker.specification.security, SASLScram512)
