"""Fixtures of the RabbitMQ publisher's tests: the server, an exchange and a queue per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

from paymux_broker_support import broker_url
from paymux_rabbitmq import RabbitMQSettings


@pytest.fixture
def rabbitmq_url() -> str:
    """The broker (``PAYMUX_TEST_RABBITMQ_URL``, default guest@127.0.0.1:5672)."""
    return broker_url("PAYMUX_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")


@pytest.fixture
async def channel(rabbitmq_url: str) -> AsyncIterator[AbstractChannel]:
    """A channel of the tests' own connection, to declare queues and read them."""
    connection = await aio_pika.connect(rabbitmq_url)
    try:
        yield await connection.channel()
    finally:
        await connection.close()


@pytest.fixture
async def rabbitmq_settings(
    rabbitmq_url: str, channel: AbstractChannel
) -> AsyncIterator[RabbitMQSettings]:
    """Settings with an exchange no other test uses; it is deleted afterwards."""
    settings = RabbitMQSettings(url=rabbitmq_url, exchange=f"paymux.test.{uuid.uuid4().hex}")
    yield settings
    await channel.exchange_delete(settings.exchange)


@pytest.fixture
async def exchange(
    channel: AbstractChannel, rabbitmq_settings: RabbitMQSettings
) -> AbstractExchange:
    """The settings' exchange, declared as the publisher declares it."""
    return await channel.declare_exchange(
        rabbitmq_settings.exchange, aio_pika.ExchangeType.TOPIC, durable=True
    )


@pytest.fixture
async def queue(channel: AbstractChannel, exchange: AbstractExchange) -> AbstractQueue:
    """An exclusive queue bound to every ``paymux.#`` routing key of the exchange."""
    declared = await channel.declare_queue(exclusive=True)
    await declared.bind(exchange, "paymux.#")
    return declared
