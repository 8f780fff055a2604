"""The RabbitMQ publisher's settings, read from ``PAYMUX_RABBITMQ__<FIELD>``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RabbitMQSettings(BaseSettings):
    """Where and how the relay publishes to RabbitMQ; unset ``url`` = off."""

    model_config = SettingsConfigDict(env_prefix="PAYMUX_RABBITMQ__", extra="ignore", frozen=True)

    url: str | None = None
    """``amqp://user:password@host:5672/vhost`` (``amqps://`` for TLS); unset: no publisher."""

    exchange: str = Field(default="paymux.events", min_length=1, max_length=255)
    """The topic exchange events are published to, routing key = the event's type."""

    declare_exchange: bool = True
    """Declare the exchange (durable, type ``topic``) on connecting; with ``False`` it must
    exist."""

    mandatory: bool = True
    """Publish as ``mandatory``: an event no queue is bound for fails the batch instead of
    being dropped by the broker (the relay retries until a queue is bound)."""

    confirm_timeout_seconds: float = Field(default=10.0, gt=0)
    """How long to wait for each publisher confirm before the batch fails."""

    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    """How long connecting may take."""

    @property
    def configured(self) -> bool:
        """Whether a server is named (otherwise the plugin offers no publisher)."""
        return bool(self.url)
