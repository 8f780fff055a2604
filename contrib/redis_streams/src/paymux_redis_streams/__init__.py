"""Redis Streams event publisher for paymux's outbox relay (``PAYMUX_REDIS_STREAMS__...``).

Install ``paymux-redis-streams`` and set ``PAYMUX_REDIS_STREAMS__URL``: the relay then
appends every event to one stream (``XADD``), a batch in one ``MULTI``/``EXEC``. See
``docs/operations/brokers.md``.
"""

from paymux_redis_streams.config import RedisStreamsSettings
from paymux_redis_streams.publisher import RedisStreamsPublisher, entry_fields

__all__ = ["RedisStreamsPublisher", "RedisStreamsSettings", "entry_fields"]
