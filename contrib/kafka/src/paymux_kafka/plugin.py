"""The Kafka plugin's hook implementation (entry point ``paymux = kafka``)."""

from __future__ import annotations

from collections.abc import Sequence

from paymux.core.events_publishers import Publisher
from paymux.core.hookspecs import hookimpl
from paymux_kafka.config import KafkaSettings
from paymux_kafka.publisher import KafkaPublisher


@hookimpl
def paymux_add_publishers() -> Sequence[Publisher]:
    """A :class:`KafkaPublisher` when ``PAYMUX_KAFKA__BOOTSTRAP_SERVERS`` is set, else none."""
    settings = KafkaSettings()
    return [KafkaPublisher(settings)] if settings.configured else []
