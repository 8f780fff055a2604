"""The NATS JetStream publisher against a real ``nats-server -js`` (skipped without one,
failed without one under ``PAYMUX_REQUIRE_BROKERS=1``)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from nats.errors import NoServersError
from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from nats.js.errors import NoStreamResponseError, NotFoundError

from paymux.core.events_consumer import Deduplicator
from paymux.core.outbox_relay import OutboxRelay, PublishError
from paymux.core.storage.database import Database
from paymux.core.storage.outbox_repository import OutboxRepository
from paymux_broker_support import add_outbox_rows, closed_port, sample_events
from paymux_nats import NatsPublisher, NatsSettings, plugin


async def stored(jetstream: JetStreamContext, stream: str) -> list[tuple[str, str, bytes]]:
    """``(subject, Nats-Msg-Id, payload)`` of every message in ``stream``, in stream order."""
    info = await jetstream.stream_info(stream)
    messages = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        message = await jetstream.get_msg(stream, seq)
        headers = message.headers or {}
        messages.append((message.subject or "", headers["Nats-Msg-Id"], message.data or b""))
    return messages


@pytest.mark.brokers
async def test_publishes_a_batch_in_order_with_ids_and_payloads(
    nats_settings: NatsSettings, jetstream: JetStreamContext
) -> None:
    publisher = NatsPublisher(nats_settings)
    batch = sample_events()
    try:
        await publisher.publish(batch)
    finally:
        await publisher.aclose()

    messages = await stored(jetstream, nats_settings.stream)
    prefix = nats_settings.subject_prefix
    assert [subject for subject, _, _ in messages] == [
        f"{prefix}.paymux.payment.created.v1",
        f"{prefix}.paymux.payment.created.v1",
        f"{prefix}.paymux.refund.created.v1",
        f"{prefix}.paymux.payout.created.v1",
    ]
    assert [msg_id for _, msg_id, _ in messages] == [event.id for event in batch]
    assert [json.loads(data) for _, _, data in messages] == [event.to_dict() for event in batch]
    first = await jetstream.get_msg(nats_settings.stream, 1)
    assert (first.headers or {})["Content-Type"] == "application/cloudevents+json"


@pytest.mark.brokers
async def test_a_redelivered_batch_is_deduplicated_by_jetstream(
    nats_settings: NatsSettings, jetstream: JetStreamContext
) -> None:
    publisher = NatsPublisher(nats_settings)
    batch = sample_events()
    try:
        await publisher.publish(batch[:2])
        await publisher.publish(batch)  # the relay retries a batch that partly went out
        await publisher.publish(batch)
    finally:
        await publisher.aclose()
    messages = await stored(jetstream, nats_settings.stream)
    assert [msg_id for _, msg_id, _ in messages] == [event.id for event in batch]


@pytest.mark.brokers
async def test_the_created_stream_keeps_the_prefix_and_dedup_window(
    nats_settings: NatsSettings, jetstream: JetStreamContext
) -> None:
    publisher = NatsPublisher(nats_settings)
    try:
        await publisher.publish(sample_events()[:1])
    finally:
        await publisher.aclose()
    config = (await jetstream.stream_info(nats_settings.stream)).config
    assert config.subjects == [f"{nats_settings.subject_prefix}.>"]
    assert config.duplicate_window == pytest.approx(120.0)


@pytest.mark.brokers
async def test_an_existing_stream_is_used_as_configured(
    nats_settings: NatsSettings, jetstream: JetStreamContext
) -> None:
    subjects = [f"{nats_settings.subject_prefix}.paymux.>"]
    await jetstream.add_stream(StreamConfig(name=nats_settings.stream, subjects=subjects))
    publisher = NatsPublisher(nats_settings.model_copy(update={"create_stream": False}))
    try:
        await publisher.publish(sample_events())
    finally:
        await publisher.aclose()
    assert len(await stored(jetstream, nats_settings.stream)) == 4
    assert (await jetstream.stream_info(nats_settings.stream)).config.subjects == subjects


@pytest.mark.brokers
async def test_without_a_stream_publishing_fails(
    nats_settings: NatsSettings, jetstream: JetStreamContext
) -> None:
    publisher = NatsPublisher(nats_settings.model_copy(update={"create_stream": False}))
    try:
        with pytest.raises(NoStreamResponseError):
            await publisher.publish(sample_events())
    finally:
        await publisher.aclose()
    with pytest.raises(NotFoundError):
        await jetstream.stream_info(nats_settings.stream)


async def test_an_unreachable_server_raises_every_time() -> None:
    publisher = NatsPublisher(NatsSettings(url=f"nats://127.0.0.1:{closed_port()}"))
    for _ in range(2):  # the relay retries: each attempt connects again
        with pytest.raises(NoServersError):
            await publisher.publish(sample_events())
    await publisher.aclose()


@pytest.mark.brokers
async def test_a_lost_connection_is_replaced_on_the_next_batch(
    nats_settings: NatsSettings, jetstream: JetStreamContext
) -> None:
    publisher = NatsPublisher(nats_settings)
    batch = sample_events()
    try:
        await publisher.publish(batch[:2])
        assert publisher._client is not None
        await publisher._client.close()  # as after the server went away for good
        await publisher.publish(batch[2:])
    finally:
        await publisher.aclose()
    messages = await stored(jetstream, nats_settings.stream)
    assert [msg_id for _, msg_id, _ in messages] == [event.id for event in batch]


@pytest.mark.brokers
async def test_the_relay_delivers_outbox_rows_to_a_consumer(
    sqlite_url: str, nats_settings: NatsSettings, jetstream: JetStreamContext
) -> None:
    """End to end: outbox rows on SQLite -> the real relay -> JetStream -> a deduplicating
    consumer. The first relay cannot reach NATS: it raises and publishes nothing."""
    database = Database(sqlite_url)
    outbox = OutboxRepository(database)
    try:
        await add_outbox_rows(database)
        unreachable = NatsPublisher(NatsSettings(url=f"nats://127.0.0.1:{closed_port()}"))
        with pytest.raises(PublishError, match="nats"):
            await OutboxRelay(database, [unreachable]).drain()
        await unreachable.aclose()
        assert await outbox.pending_count() == 4

        publisher = NatsPublisher(nats_settings)
        relay = OutboxRelay(database, [publisher], batch_size=3)
        try:
            assert await relay.drain() == 4
        finally:
            await relay.aclose()
        assert await outbox.pending_count() == 0

        subscription = await jetstream.pull_subscribe(
            f"{nats_settings.subject_prefix}.>", stream=nats_settings.stream
        )
        messages = await subscription.fetch(4, timeout=5)
        handled: list[dict[str, Any]] = []

        async def record(event: dict[str, Any]) -> None:
            handled.append(event)

        dedup = Deduplicator(sqlite_url)
        try:
            for message in messages:
                await dedup.handle("analytics", json.loads(message.data), record)
                await message.ack()
            redelivered = json.loads(messages[0].data)
            assert not await dedup.handle("analytics", redelivered, record)
        finally:
            await dedup.aclose()
        assert [(e["type"], e["subject"]) for e in handled] == [
            ("paymux.payment.created.v1", "pay_a"),
            ("paymux.payment.created.v1", "pay_b"),
            ("paymux.refund.created.v1", "pay_a"),
            ("paymux.payout.created.v1", "seller_1"),
        ]
        assert [e["data"] for e in handled][2] == {
            "refund_id": "re_1",
            "amount_minor": 250,
            "note": "ünïcode",
        }
        assert [(m.headers or {})["Nats-Msg-Id"] for m in messages] == [e["id"] for e in handled]
    finally:
        await database.dispose()


def test_the_plugin_offers_nothing_until_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAYMUX_NATS__URL", raising=False)
    assert plugin.paymux_add_publishers() == []


def test_the_plugin_reads_its_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMUX_NATS__URL", "nats://n1:4222, nats://n2:4222")
    monkeypatch.setenv("PAYMUX_NATS__SUBJECT_PREFIX", "acme.payments")
    monkeypatch.setenv("PAYMUX_NATS__STREAM", "ACME")
    [publisher] = plugin.paymux_add_publishers()
    assert isinstance(publisher, NatsPublisher)
    assert publisher.name == "nats"
    assert publisher.settings.servers == ["nats://n1:4222", "nats://n2:4222"]
    subject = publisher.settings.subject("paymux.payout.paid.v1")
    assert subject == "acme.payments.paymux.payout.paid.v1"
    assert publisher.settings.stream == "ACME"
