"""Publishes CloudEvents to a NATS JetStream stream with nats-py.

Each event is one message on ``<prefix>.<type>``; the payload is the event in CloudEvents'
structured JSON mode (header ``Content-Type: application/cloudevents+json``) and the header
``Nats-Msg-Id`` is the event id, so JetStream drops a redelivered event inside its
duplicate window. Messages are published one after the other, each waiting for its PubAck
(the stream stored it, replicated per its configuration), so the stream holds the batch in
order and a failure stops the batch at the failed event.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError

from paymux.core.events import CloudEvent
from paymux_nats.config import NatsSettings

log = logging.getLogger(__name__)

CLOUDEVENTS_JSON = "application/cloudevents+json"
"""The content type of a structured-mode CloudEvent."""


def message_headers(event: CloudEvent) -> dict[str, str]:
    """The message's headers: JetStream's dedup id and the structured-mode content type."""
    return {"Nats-Msg-Id": event.id, "Content-Type": CLOUDEVENTS_JSON}


async def _log_error(error: Exception) -> None:
    log.warning("NATS connection error: %s: %s", type(error).__name__, error)


class NatsPublisher:
    """The relay's JetStream publisher (a :class:`~paymux.core.events_publishers.Publisher`)."""

    name = "nats"

    def __init__(self, settings: NatsSettings) -> None:
        self.settings = settings
        self._client: Client | None = None
        self._jetstream: JetStreamContext | None = None

    async def publish(self, events: Sequence[CloudEvent]) -> None:
        """Publish ``events`` in order, each acknowledged by the stream, or raise.

        Connects (and creates the stream if allowed and missing) on first use, and again
        after the connection was lost. A PubAck marked ``duplicate`` (an event JetStream
        already stored) counts as delivered.
        """
        if not events:
            return
        jetstream = await self._connect()
        for event in events:
            ack = await jetstream.publish(
                self.settings.subject(event.type),
                event.to_json().encode(),
                timeout=self.settings.ack_timeout_seconds,
                stream=self.settings.stream,
                headers=message_headers(event),
            )
            if ack.duplicate:
                log.info("JetStream already had %s (seq %s)", event.id, ack.seq)

    async def aclose(self) -> None:
        """Close the connection (every published message was acknowledged already)."""
        client, self._client, self._jetstream = self._client, None, None
        if client is not None and not client.is_closed:
            await client.close()

    async def _connect(self) -> JetStreamContext:
        if self._client is not None and self._jetstream is not None and not self._client.is_closed:
            return self._jetstream
        settings = self.settings
        # Each server is tried twice without waiting; then connecting fails and the relay
        # backs off. A lost connection is retried the same way, then the client closes and
        # the next publish connects anew.
        client = await nats.connect(
            settings.servers,
            connect_timeout=settings.connect_timeout_seconds,
            max_reconnect_attempts=1,
            reconnect_time_wait=0,
            error_cb=_log_error,
            user_credentials=str(settings.credentials_file) if settings.credentials_file else None,
            name="paymux-relay",
        )
        try:
            jetstream = client.jetstream(timeout=settings.ack_timeout_seconds)
            if settings.create_stream:
                await self._ensure_stream(jetstream)
        except BaseException:
            await client.close()
            raise
        self._client, self._jetstream = client, jetstream
        return jetstream

    async def _ensure_stream(self, jetstream: JetStreamContext) -> None:
        settings = self.settings
        try:
            await jetstream.stream_info(settings.stream)
        except NotFoundError:
            await jetstream.add_stream(
                StreamConfig(
                    name=settings.stream,
                    subjects=[f"{settings.subject_prefix}.>"],
                    storage=StorageType.FILE,
                    num_replicas=settings.stream_replicas,
                    duplicate_window=settings.duplicate_window_seconds,
                )
            )
            log.info("created JetStream stream %s", settings.stream)
