"""The Redis Streams plugin's hook implementation (entry point ``paymux = redis_streams``)."""

from __future__ import annotations

from collections.abc import Sequence

from paymux.core.events_publishers import Publisher
from paymux.core.hookspecs import hookimpl
from paymux_redis_streams.config import RedisStreamsSettings
from paymux_redis_streams.publisher import RedisStreamsPublisher


@hookimpl
def paymux_add_publishers() -> Sequence[Publisher]:
    """A :class:`RedisStreamsPublisher` when ``PAYMUX_REDIS_STREAMS__URL`` is set, else none."""
    settings = RedisStreamsSettings()
    return [RedisStreamsPublisher(settings)] if settings.configured else []
