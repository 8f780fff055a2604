"""Publishes CloudEvents to one Kafka topic through a FastStream ``KafkaBroker``.

Each event is one record: the value is the event in CloudEvents' structured JSON mode
(``content-type: application/cloudevents+json``), the key is its ``subject`` (the outbox
key: the payment id, or the seller id for payouts), so one payment's events land in one
partition, in order. The producer is idempotent with ``acks=all``; ``publish`` hands the
whole batch to the producer in order and returns only when every record is acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Sequence
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from paymux.core.events import CloudEvent
from paymux_kafka.config import KafkaSettings

log = logging.getLogger(__name__)

CLOUDEVENTS_JSON = "application/cloudevents+json"
"""The content type of a structured-mode CloudEvent."""


def record_headers(event: CloudEvent) -> dict[str, str]:
    """The record's headers: the structured-mode content type, and copies of the id, type
    and subject so consumers can route and deduplicate without parsing the value."""
    return {
        "content-type": CLOUDEVENTS_JSON,
        "ce_id": event.id,
        "ce_type": event.type,
        "ce_subject": event.subject,
    }


def _security(settings: KafkaSettings) -> BaseSecurity | None:
    context = ssl.create_default_context() if settings.tls else None
    if settings.sasl_mechanism is None:
        return BaseSecurity(ssl_context=context) if context else None
    username = settings.sasl_username or ""
    password = settings.sasl_password.get_secret_value() if settings.sasl_password else ""
    sasl = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}
    return sasl[settings.sasl_mechanism](username, password, ssl_context=context)


def build_broker(settings: KafkaSettings) -> KafkaBroker:
    """A FastStream ``KafkaBroker`` for publishing: idempotent producer, ``acks=all``.

    Building it does not connect; the publisher connects on its first ``publish``.
    """
    return KafkaBroker(
        settings.servers,
        client_id=settings.client_id,
        request_timeout_ms=settings.request_timeout_ms,
        acks="all",
        enable_idempotence=True,
        security=_security(settings),
        logger=log,
    )


class KafkaPublisher:
    """The relay's Kafka publisher (a :class:`~paymux.core.events_publishers.Publisher`)."""

    name = "kafka"

    def __init__(self, settings: KafkaSettings, *, broker: KafkaBroker | None = None) -> None:
        self.settings = settings
        self.broker = broker if broker is not None else build_broker(settings)
        """The FastStream broker; tests wrap it in ``TestKafkaBroker``."""

    async def publish(self, events: Sequence[CloudEvent]) -> None:
        """Send ``events`` in order to the topic and wait until Kafka acknowledged all.

        Connects on first use. The records are queued in order before any acknowledgement
        is awaited; the idempotent producer keeps them in that order within a partition,
        retries included. Raises if the cluster cannot be reached or any record fails.
        """
        if not events:
            return
        await self.broker.connect()
        acknowledgements: list[asyncio.Future[Any]] = []
        try:
            for event in events:
                acknowledgement = await self.broker.publish(
                    event.to_json().encode(),
                    topic=self.settings.topic,
                    key=event.subject.encode(),
                    headers=record_headers(event),
                    correlation_id=event.id,
                    no_confirm=True,
                )
                # A real producer returns a future per record; FastStream's test producer
                # (TestKafkaBroker) delivers at once and returns None.
                if isinstance(acknowledgement, asyncio.Future):
                    acknowledgements.append(acknowledgement)
        except Exception:
            await asyncio.gather(*acknowledgements, return_exceptions=True)
            raise
        await asyncio.gather(*acknowledgements)

    async def aclose(self) -> None:
        """Flush and close the producer."""
        await self.broker.stop()
