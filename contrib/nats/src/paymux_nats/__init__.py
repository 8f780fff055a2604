"""NATS JetStream event publisher for paymux's outbox relay (``PAYMUX_NATS__...``).

Install ``paymux-nats`` and set ``PAYMUX_NATS__URL``: the relay then publishes every event
to the subject ``<prefix>.<type>`` of one JetStream stream and waits for each PubAck. See
``docs/operations/brokers.md``.
"""

from paymux_nats.config import NatsSettings
from paymux_nats.publisher import NatsPublisher, message_headers

__all__ = ["NatsPublisher", "NatsSettings", "message_headers"]
