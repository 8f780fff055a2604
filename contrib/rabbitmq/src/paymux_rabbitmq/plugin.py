"""The RabbitMQ plugin's hook implementation (entry point ``paymux = rabbitmq``)."""

from __future__ import annotations

from collections.abc import Sequence

from paymux.core.events_publishers import Publisher
from paymux.core.hookspecs import hookimpl
from paymux_rabbitmq.config import RabbitMQSettings
from paymux_rabbitmq.publisher import RabbitMQPublisher


@hookimpl
def paymux_add_publishers() -> Sequence[Publisher]:
    """A :class:`RabbitMQPublisher` when ``PAYMUX_RABBITMQ__URL`` is set, else none."""
    settings = RabbitMQSettings()
    return [RabbitMQPublisher(settings)] if settings.configured else []
