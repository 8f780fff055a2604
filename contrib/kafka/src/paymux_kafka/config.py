"""The Kafka publisher's settings, read from ``PAYMUX_KAFKA__<FIELD>``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class KafkaSettings(BaseSettings):
    """Where and how the relay publishes to Kafka; unset ``bootstrap_servers`` = off."""

    model_config = SettingsConfigDict(env_prefix="PAYMUX_KAFKA__", extra="ignore", frozen=True)

    bootstrap_servers: str | None = None
    """Comma-separated ``host:port`` list (``kafka-1:9092,kafka-2:9092``); unset: no publisher."""

    topic: str = Field(default="paymux.events", pattern=r"^[A-Za-z0-9._-]{1,249}$")
    """The one topic every event goes to (one topic keeps a payment's events in one partition)."""

    client_id: str = Field(default="paymux-relay", min_length=1)
    """The producer's client id, as the brokers log it."""

    request_timeout_ms: int = Field(default=30_000, gt=0)
    """How long a produce request may wait for the in-sync replicas before it fails."""

    tls: bool = False
    """Connect with TLS (the system's trusted certificates)."""

    sasl_mechanism: SaslMechanism | None = None
    """SASL authentication: ``PLAIN``, ``SCRAM-SHA-256`` or ``SCRAM-SHA-512``; unset: none."""

    sasl_username: str | None = None
    sasl_password: SecretStr | None = None

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> KafkaSettings:
        if self.sasl_mechanism and not (self.sasl_username and self.sasl_password):
            raise ValueError("sasl_mechanism needs sasl_username and sasl_password")
        return self

    @property
    def configured(self) -> bool:
        """Whether a Kafka cluster is named (otherwise the plugin offers no publisher)."""
        return bool(self.servers)

    @property
    def servers(self) -> list[str]:
        """``bootstrap_servers`` split on commas."""
        raw = self.bootstrap_servers or ""
        return [server.strip() for server in raw.split(",") if server.strip()]
