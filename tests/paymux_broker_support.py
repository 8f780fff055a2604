"""Helpers of the contrib event publishers' tests: brokers, sample events, outbox rows.

A broker test asks for its server with :func:`broker_url`: the URL comes from an
environment variable (``PAYMUX_TEST_NATS_URL`` ...) or the local default; when nothing
answers there the test is skipped, unless ``PAYMUX_REQUIRE_BROKERS=1`` (set by CI) turns
that into a failure.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest

from paymux.core.domain.models import OutboxMessage
from paymux.core.events import CloudEvent, OutboxRecord, envelope
from paymux.core.storage.database import Database
from paymux.core.storage.unit_of_work import PaymentStore

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

SAMPLE_ROWS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("payment.created", "pay_a", {"payment_id": "pay_a", "amount_minor": 1250}),
    ("payment.created", "pay_b", {"payment_id": "pay_b", "amount_minor": 990}),
    ("refund.created", "pay_a", {"refund_id": "re_1", "amount_minor": 250, "note": "ünïcode"}),
    ("payout.created", "seller_1", {"payout_id": "po_1", "amount_minor": 1000}),
)
"""``(topic, key, payload)`` of :func:`sample_events`, in order."""


def broker_url(variable: str, default: str) -> str:
    """``$variable`` or ``default``, if a server answers there; else skip (or fail in CI)."""
    url = os.environ.get(variable, default)
    parts = urlsplit(url if "://" in url else f"tcp://{url}")
    host, port = parts.hostname or "127.0.0.1", parts.port
    try:
        with socket.create_connection((host, port or 0), timeout=3):
            pass
    except OSError as error:
        if os.environ.get("PAYMUX_REQUIRE_BROKERS") == "1":
            pytest.fail(f"a broker is required but unreachable at {host}:{port}: {error}")
        pytest.skip(f"no broker answers at {host}:{port} (set {variable})")
    return url


def closed_port() -> int:
    """A local TCP port nothing listens on (it was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def sample_events(prefix: str = "evt_") -> list[CloudEvent]:
    """Four envelopes of :data:`SAMPLE_ROWS`, ids ``<prefix><24 hex digits>``."""
    return [
        envelope(OutboxRecord(f"{prefix}{i:024x}", topic, key, data, T0 + timedelta(seconds=i)))
        for i, (topic, key, data) in enumerate(SAMPLE_ROWS)
    ]


async def add_outbox_rows(database: Database) -> None:
    """Store :data:`SAMPLE_ROWS` as outbox rows, in one transaction."""
    async with PaymentStore(database).begin() as uow:
        await uow.add_outbox(
            [OutboxMessage(topic, key, data) for topic, key, data in SAMPLE_ROWS], now=T0
        )
