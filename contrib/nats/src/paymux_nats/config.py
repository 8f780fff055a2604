"""The NATS JetStream publisher's settings, read from ``PAYMUX_NATS__<FIELD>``."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class NatsSettings(BaseSettings):
    """Where and how the relay publishes to JetStream; unset ``url`` = off."""

    model_config = SettingsConfigDict(env_prefix="PAYMUX_NATS__", extra="ignore", frozen=True)

    url: str | None = None
    """Comma-separated server URLs (``nats://user:pass@n1:4222,nats://n2:4222``); unset: no
    publisher."""

    subject_prefix: str = Field(default="events", pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
    """Events go to ``<subject_prefix>.<type>``, e.g. ``events.paymux.payment.created.v1``."""

    stream: str = Field(default="PAYMUX_EVENTS", pattern=r"^[A-Za-z0-9_-]+$")
    """The JetStream stream that must store them (publishing fails if another one would)."""

    create_stream: bool = True
    """Create ``stream`` (subjects ``<subject_prefix>.>``, file storage) if it is missing. An
    existing stream is left as its operator configured it."""

    stream_replicas: int = Field(default=1, ge=1, le=5)
    """Replicas of a stream the publisher creates (3 on a three-node cluster)."""

    duplicate_window_seconds: float = Field(default=120.0, gt=0)
    """JetStream's deduplication window (``Nats-Msg-Id``) of a stream the publisher creates."""

    ack_timeout_seconds: float = Field(default=5.0, gt=0)
    """How long to wait for each event's PubAck before the batch fails."""

    connect_timeout_seconds: int = Field(default=2, gt=0)
    """How long one connection attempt to one server may take."""

    credentials_file: Path | None = None
    """A ``.creds`` file (user JWT and NKey seed) for NATS's decentralized auth."""

    @property
    def configured(self) -> bool:
        """Whether a server is named (otherwise the plugin offers no publisher)."""
        return bool(self.servers)

    @property
    def servers(self) -> list[str]:
        """``url`` split on commas."""
        raw = self.url or ""
        return [server.strip() for server in raw.split(",") if server.strip()]

    def subject(self, event_type: str) -> str:
        """The subject of events of ``event_type``."""
        return f"{self.subject_prefix}.{event_type}"
