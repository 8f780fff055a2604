"""Kafka event publisher for paymux's outbox relay (``PAYMUX_KAFKA__...``).

Install ``paymux-kafka`` and set ``PAYMUX_KAFKA__BOOTSTRAP_SERVERS``: the relay then
publishes every event to one topic, keyed by the event's subject (the payment or seller
id), as a CloudEvents structured-mode JSON value. See ``docs/operations/brokers.md``.
"""

from paymux_kafka.config import KafkaSettings
from paymux_kafka.publisher import KafkaPublisher, build_broker, record_headers

__all__ = ["KafkaPublisher", "KafkaSettings", "build_broker", "record_headers"]
