"""The Redis Streams publisher's settings, read from ``PAYMUX_REDIS_STREAMS__<FIELD>``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RedisStreamsSettings(BaseSettings):
    """Where and how the relay appends to a Redis stream; unset ``url`` = off."""

    model_config = SettingsConfigDict(
        env_prefix="PAYMUX_REDIS_STREAMS__", extra="ignore", frozen=True
    )

    url: str | None = None
    """``redis://[:password@]host:6379/0`` (``rediss://`` for TLS); unset: no publisher."""

    stream: str = Field(default="paymux:events", min_length=1)
    """The stream key every event is appended to (one stream: one total order)."""

    max_length: int | None = Field(default=None, gt=0)
    """Trim the stream to about this many entries (``XADD MAXLEN ~``); unset: never trim."""

    min_replicas: int = Field(default=0, ge=0)
    """After each batch, ``WAIT`` until this many replicas have it, else the batch fails."""

    replica_timeout_ms: int = Field(default=1_000, gt=0)
    """How long ``WAIT`` may take."""

    socket_timeout_seconds: float = Field(default=5.0, gt=0)
    """Timeout of connecting and of each command."""

    @property
    def configured(self) -> bool:
        """Whether a server is named (otherwise the plugin offers no publisher)."""
        return bool(self.url)
