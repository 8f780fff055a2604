"""Fixtures of the Redis Streams publisher's tests: the server, and a stream per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from paymux_broker_support import broker_url
from paymux_redis_streams import RedisStreamsSettings


@pytest.fixture
def redis_url() -> str:
    """The Redis server (``PAYMUX_TEST_REDIS_URL``, default 127.0.0.1:6379, database 0)."""
    return broker_url("PAYMUX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """The tests' own client (strings, not bytes), to read back what was published."""
    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def redis_settings(redis_url: str, redis: Redis) -> AsyncIterator[RedisStreamsSettings]:
    """Settings with a stream no other test uses; the key is deleted afterwards."""
    settings = RedisStreamsSettings(url=redis_url, stream=f"paymux:test:{uuid.uuid4().hex}")
    yield settings
    await redis.delete(settings.stream)
