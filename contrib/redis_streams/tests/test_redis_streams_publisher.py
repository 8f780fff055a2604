"""The Redis Streams publisher against a real ``redis-server`` (skipped without one, failed
without one under ``PAYMUX_REQUIRE_BROKERS=1``)."""

from __future__ import annotations

import json
from typing import cast

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from paymux.core.events import OutboxRecord, envelope
from paymux.core.outbox_relay import OutboxRelay, PublishError
from paymux.core.storage.database import Database
from paymux.core.storage.outbox_repository import OutboxRepository
from paymux_broker_support import T0, add_outbox_rows, closed_port, sample_events
from paymux_redis_streams import RedisStreamsPublisher, RedisStreamsSettings, plugin
from paymux_redis_streams.publisher import ReplicationError


async def entries(redis: Redis, stream: str) -> list[dict[str, str]]:
    """The fields of every entry of ``stream``, oldest first."""
    answer = cast(list[tuple[str, dict[str, str]]], await redis.xrange(stream))
    return [fields for _, fields in answer]


@pytest.mark.brokers
async def test_appends_a_batch_in_order_one_field_per_attribute(
    redis_settings: RedisStreamsSettings, redis: Redis
) -> None:
    publisher = RedisStreamsPublisher(redis_settings)
    batch = sample_events()
    try:
        await publisher.publish(batch)
    finally:
        await publisher.aclose()

    stored = await entries(redis, redis_settings.stream)
    assert [entry["id"] for entry in stored] == [event.id for event in batch]
    assert [entry["type"] for entry in stored] == [event.type for event in batch]
    assert [entry["subject"] for entry in stored] == ["pay_a", "pay_b", "pay_a", "seller_1"]
    assert [json.loads(entry["data"]) for entry in stored] == [dict(e.data) for e in batch]
    assert stored[0] == {
        "id": batch[0].id,
        "source": "paymux",
        "type": "paymux.payment.created.v1",
        "subject": "pay_a",
        "time": "2026-03-01T12:00:00+00:00",
        "specversion": "1.0",
        "datacontenttype": "application/json",
        "data": '{"amount_minor":1250,"payment_id":"pay_a"}',
    }


@pytest.mark.brokers
async def test_the_stream_is_trimmed_to_about_max_length(
    redis_settings: RedisStreamsSettings, redis: Redis
) -> None:
    publisher = RedisStreamsPublisher(redis_settings.model_copy(update={"max_length": 10}))
    batch = [
        envelope(OutboxRecord(f"evt_{i:024x}", "payment.created", f"pay_{i}", {}, T0))
        for i in range(500)
    ]
    try:
        for start in range(0, 500, 100):
            await publisher.publish(batch[start : start + 100])
    finally:
        await publisher.aclose()
    length = await redis.xlen(redis_settings.stream)
    assert 10 <= length < 500
    last = cast(
        list[tuple[str, dict[str, str]]], await redis.xrevrange(redis_settings.stream, count=1)
    )
    assert last[0][1]["id"] == batch[-1].id


@pytest.mark.brokers
async def test_a_batch_not_replicated_in_time_fails(
    redis_settings: RedisStreamsSettings, redis: Redis
) -> None:
    if int((await redis.info("replication"))["connected_slaves"]) > 0:
        pytest.skip("this Redis has replicas")
    settings = redis_settings.model_copy(update={"min_replicas": 1, "replica_timeout_ms": 50})
    publisher = RedisStreamsPublisher(settings)
    try:
        with pytest.raises(ReplicationError, match="0 of 1 replicas"):
            await publisher.publish(sample_events())
    finally:
        await publisher.aclose()
    assert await redis.xlen(redis_settings.stream) == 4  # at least once: the retry repeats them


@pytest.mark.brokers
async def test_a_refused_xadd_raises(redis_settings: RedisStreamsSettings, redis: Redis) -> None:
    await redis.set(redis_settings.stream, "not a stream")
    publisher = RedisStreamsPublisher(redis_settings)
    try:
        with pytest.raises(ResponseError, match="WRONGTYPE"):
            await publisher.publish(sample_events())
    finally:
        await publisher.aclose()


async def test_an_unreachable_server_raises_every_time() -> None:
    settings = RedisStreamsSettings(url=f"redis://127.0.0.1:{closed_port()}/0")
    publisher = RedisStreamsPublisher(settings)
    try:
        for _ in range(2):  # the relay retries: each attempt connects again
            with pytest.raises(RedisConnectionError):
                await publisher.publish(sample_events())
    finally:
        await publisher.aclose()


@pytest.mark.brokers
async def test_the_relay_delivers_outbox_rows_to_a_consumer_group(
    sqlite_url: str, redis_settings: RedisStreamsSettings, redis: Redis
) -> None:
    """End to end: outbox rows on SQLite -> the real relay -> a Redis stream -> a consumer
    group. The first relay cannot reach Redis: it raises and publishes nothing."""
    database = Database(sqlite_url)
    outbox = OutboxRepository(database)
    try:
        await add_outbox_rows(database)
        unreachable = RedisStreamsPublisher(
            RedisStreamsSettings(url=f"redis://127.0.0.1:{closed_port()}/0")
        )
        with pytest.raises(PublishError, match="redis-streams"):
            await OutboxRelay(database, [unreachable]).drain()
        await unreachable.aclose()
        assert await outbox.pending_count() == 4

        relay = OutboxRelay(database, [RedisStreamsPublisher(redis_settings)], batch_size=3)
        try:
            assert await relay.drain() == 4
        finally:
            await relay.aclose()
        assert await outbox.pending_count() == 0
    finally:
        await database.dispose()

    stream = redis_settings.stream
    await redis.xgroup_create(stream, "analytics", id="0")
    answer = cast(
        list[tuple[str, list[tuple[str, dict[str, str]]]]],
        await redis.xreadgroup("analytics", "worker-1", {stream: ">"}, count=10),
    )
    [(name, delivered)] = answer
    assert name == stream
    assert [(f["type"], f["subject"]) for _, f in delivered] == [
        ("paymux.payment.created.v1", "pay_a"),
        ("paymux.payment.created.v1", "pay_b"),
        ("paymux.refund.created.v1", "pay_a"),
        ("paymux.payout.created.v1", "seller_1"),
    ]
    assert json.loads(delivered[2][1]["data"])["note"] == "ünïcode"
    assert all(f["id"].startswith("evt_") for _, f in delivered)
    assert len({f["id"] for _, f in delivered}) == 4
    assert await redis.xack(stream, "analytics", *[entry_id for entry_id, _ in delivered]) == 4


def test_the_plugin_offers_nothing_until_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAYMUX_REDIS_STREAMS__URL", raising=False)
    assert plugin.paymux_add_publishers() == []


def test_the_plugin_reads_its_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMUX_REDIS_STREAMS__URL", "redis://cache:6379/2")
    monkeypatch.setenv("PAYMUX_REDIS_STREAMS__STREAM", "acme:payments")
    monkeypatch.setenv("PAYMUX_REDIS_STREAMS__MAX_LENGTH", "100000")
    [publisher] = plugin.paymux_add_publishers()
    assert isinstance(publisher, RedisStreamsPublisher)
    assert publisher.name == "redis-streams"
    assert publisher.settings.stream == "acme:payments"
    assert publisher.settings.max_length == 100_000
