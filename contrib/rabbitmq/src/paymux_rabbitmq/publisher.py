"""Publishes CloudEvents to a RabbitMQ topic exchange with aio-pika.

Each event is one persistent message (``delivery_mode`` 2) whose body is the event in
CloudEvents' structured JSON mode (``content_type`` ``application/cloudevents+json``), with
``message_id`` = the event id, ``type`` = the event type, and the event type as routing key.
The channel runs in publisher-confirm mode: each message is published after the previous
one was confirmed (the broker took responsibility for it, on disk for durable queues), so
a batch is stored in order and a failure stops it at the failed event.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

import aio_pika
import aiormq
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange

from paymux.core.events import CloudEvent
from paymux_rabbitmq.config import RabbitMQSettings

log = logging.getLogger(__name__)

CLOUDEVENTS_JSON = "application/cloudevents+json"
"""The content type of a structured-mode CloudEvent."""


class NotConfirmedError(Exception):
    """The broker answered a publish with something other than a confirm."""


def amqp_message(event: CloudEvent) -> aio_pika.Message:
    """The persistent AMQP message of ``event`` (structured mode, id as ``message_id``)."""
    return aio_pika.Message(
        event.to_json().encode(),
        content_type=CLOUDEVENTS_JSON,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=event.id,
        type=event.type,
        timestamp=datetime.fromisoformat(event.time),
        app_id=event.source,
        headers={"ce_subject": event.subject},
    )


class RabbitMQPublisher:
    """The relay's RabbitMQ publisher (a :class:`~paymux.core.events_publishers.Publisher`)."""

    name = "rabbitmq"

    def __init__(self, settings: RabbitMQSettings) -> None:
        self.settings = settings
        self._connection: AbstractConnection | None = None
        self._exchange: AbstractExchange | None = None

    async def publish(self, events: Sequence[CloudEvent]) -> None:
        """Publish ``events`` in order, each confirmed by the broker, or raise.

        Connects on first use. After any failure the connection is closed, and the next
        call opens a new one.
        """
        if not events:
            return
        exchange = await self._connect()
        try:
            for event in events:
                confirm = await exchange.publish(
                    amqp_message(event),
                    routing_key=event.type,
                    mandatory=self.settings.mandatory,
                    timeout=self.settings.confirm_timeout_seconds,
                )
                if not isinstance(confirm, aiormq.spec.Basic.Ack):
                    raise NotConfirmedError(f"{event.id}: the broker answered {confirm!r}")
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        """Close the connection."""
        connection, self._connection, self._exchange = self._connection, None, None
        if connection is not None and not connection.is_closed:
            await connection.close()

    async def _connect(self) -> AbstractExchange:
        if self._exchange is not None and self._connection is not None:
            if not self._connection.is_closed:
                return self._exchange
            await self.aclose()
        settings = self.settings
        connection = await aio_pika.connect(
            settings.url or "", timeout=settings.connect_timeout_seconds
        )
        try:
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            exchange = await self._exchange_of(channel)
        except BaseException:
            await connection.close()
            raise
        self._connection, self._exchange = connection, exchange
        return exchange

    async def _exchange_of(self, channel: AbstractChannel) -> AbstractExchange:
        name = self.settings.exchange
        if self.settings.declare_exchange:
            return await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=True)
        return await channel.get_exchange(name, ensure=True)
