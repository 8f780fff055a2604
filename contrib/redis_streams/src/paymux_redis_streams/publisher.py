"""Appends CloudEvents to a Redis stream with redis-py.

Each event is one stream entry whose fields are the CloudEvent's attributes (``id``,
``type``, ``source``, ``subject``, ``time``, ``specversion``, ``datacontenttype``) and
``data``, the event's data as JSON. A batch is one ``MULTI``/``EXEC`` of ``XADD``s: one
round trip, and the entries are appended in order with nothing of another client between
them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

from redis.asyncio import Redis

from paymux.core.events import CloudEvent
from paymux_redis_streams.config import RedisStreamsSettings

log = logging.getLogger(__name__)


class ReplicationError(Exception):
    """Fewer replicas than ``min_replicas`` acknowledged a batch within the timeout."""


def entry_fields(event: CloudEvent) -> dict[str, str]:
    """The stream entry of ``event``: one field per attribute, ``data`` as JSON."""
    fields = {key: value for key, value in event.to_dict().items() if key != "data"}
    fields["data"] = json.dumps(dict(event.data), sort_keys=True, separators=(",", ":"))
    return fields


class RedisStreamsPublisher:
    """The relay's Redis Streams publisher (a :class:`~paymux.core.events_publishers.Publisher`)."""

    name = "redis-streams"

    def __init__(self, settings: RedisStreamsSettings) -> None:
        self.settings = settings
        self._client: Redis | None = None

    async def publish(self, events: Sequence[CloudEvent]) -> None:
        """Append ``events`` in order in one transaction, or raise.

        Raises when Redis cannot be reached, refuses an ``XADD`` (the key holds another
        type, say), or, with ``min_replicas``, is not replicated in time. The client
        connects on first use and reconnects on the next call after a lost connection.
        """
        if not events:
            return
        client = self._connect()
        settings = self.settings
        async with client.pipeline(transaction=True) as pipeline:
            for event in events:
                pipeline.xadd(
                    settings.stream,
                    entry_fields(event),  # type: ignore[arg-type]
                    maxlen=settings.max_length,
                    approximate=True,
                )
            await pipeline.execute()
        if settings.min_replicas:
            acknowledged = await client.wait(settings.min_replicas, settings.replica_timeout_ms)
            if acknowledged < settings.min_replicas:
                raise ReplicationError(
                    f"{acknowledged} of {settings.min_replicas} replicas acknowledged the batch"
                )

    async def aclose(self) -> None:
        """Close the connection pool."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def _connect(self) -> Redis:
        if self._client is None:
            timeout = self.settings.socket_timeout_seconds
            self._client = Redis.from_url(
                self.settings.url or "",
                socket_connect_timeout=timeout,
                socket_timeout=timeout,
                client_name="paymux-relay",
            )
        return self._client
