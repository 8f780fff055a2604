"""The NATS plugin's hook implementation (entry point ``paymux = nats``)."""

from __future__ import annotations

from collections.abc import Sequence

from paymux.core.events_publishers import Publisher
from paymux.core.hookspecs import hookimpl
from paymux_nats.config import NatsSettings
from paymux_nats.publisher import NatsPublisher


@hookimpl
def paymux_add_publishers() -> Sequence[Publisher]:
    """A :class:`NatsPublisher` when ``PAYMUX_NATS__URL`` is set, else none."""
    settings = NatsSettings()
    return [NatsPublisher(settings)] if settings.configured else []
