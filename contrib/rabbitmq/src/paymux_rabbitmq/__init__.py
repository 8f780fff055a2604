"""RabbitMQ event publisher for paymux's outbox relay (``PAYMUX_RABBITMQ__...``).

Install ``paymux-rabbitmq`` and set ``PAYMUX_RABBITMQ__URL``: the relay then publishes every
event, persistent, to a topic exchange with the event's type as routing key, and waits for
the broker's publisher confirm. See ``docs/operations/brokers.md``.
"""

from paymux_rabbitmq.config import RabbitMQSettings
from paymux_rabbitmq.publisher import RabbitMQPublisher, amqp_message

__all__ = ["RabbitMQPublisher", "RabbitMQSettings", "amqp_message"]
