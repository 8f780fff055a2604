"""Fixtures of the NATS publisher's tests: the server, and a stream of each test's own."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import nats
import pytest
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from paymux_broker_support import broker_url
from paymux_nats import NatsSettings


@pytest.fixture
def nats_url() -> str:
    """The JetStream server (``PAYMUX_TEST_NATS_URL``, default 127.0.0.1:4222)."""
    return broker_url("PAYMUX_TEST_NATS_URL", "nats://127.0.0.1:4222")


@pytest.fixture
async def jetstream(nats_url: str) -> AsyncIterator[JetStreamContext]:
    """A JetStream context of the tests' own connection, to read back what was published."""
    client = await nats.connect(nats_url)
    try:
        yield client.jetstream()
    finally:
        await client.close()


@pytest.fixture
async def nats_settings(nats_url: str, jetstream: JetStreamContext) -> AsyncIterator[NatsSettings]:
    """Settings with a stream and subject prefix no other test uses; the stream is deleted."""
    tag = uuid.uuid4().hex[:12]
    settings = NatsSettings(url=nats_url, stream=f"PAYMUX_TEST_{tag}", subject_prefix=f"test.{tag}")
    yield settings
    with contextlib.suppress(NotFoundError):
        await jetstream.delete_stream(settings.stream)
