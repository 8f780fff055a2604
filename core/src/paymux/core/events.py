"""Outbox events as versioned CloudEvents 1.0 envelopes (pure functions, no I/O).

The use cases store an :class:`OutboxRecord` per state change (see
:meth:`~paymux.core.storage.unit_of_work.UnitOfWork.add_outbox`); the relay wraps each in a
:class:`CloudEvent` with :func:`envelope` when it publishes. ``docs/events.md`` lists every
type and its ``data``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from paymux.core.domain.status import PaymentStatus

SPEC_VERSION = "1.0"
"""The CloudEvents specification version of every envelope."""

DEFAULT_SOURCE = "paymux"
"""The envelope's ``source`` unless the settings name another (``PAYMUX_EVENT_SOURCE``)."""

TYPE_PREFIX = "paymux"
TYPE_VERSION = "v1"
STATUS_CHANGED_TOPIC = "payment_order.status_changed"

SIMPLE_TOPICS: frozenset[str] = frozenset(
    {
        "payment.created",
        "payment.paid_after_expiry",
        "payment_order.shipped",
        "refund.created",
        "refund.succeeded",
        "refund.failed",
        "payout.created",
        "payout.paid",
        "payout.failed",
        "chargeback.opened",
        "chargeback.won",
        "chargeback.lost",
        "reconciliation.completed",
    }
)
"""Topics whose type is ``paymux.<topic>.v1``."""


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    """One stored outbox row: what the relay reads and wraps."""

    id: str
    topic: str
    key: str
    payload: Mapping[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CloudEvent:
    """A CloudEvents 1.0 envelope (structured mode) of one outbox event."""

    id: str
    source: str
    type: str
    subject: str
    time: str
    data: Mapping[str, Any]
    specversion: str = SPEC_VERSION
    datacontenttype: str = "application/json"

    def to_dict(self) -> dict[str, Any]:
        """The envelope as the JSON object of CloudEvents' structured content mode."""
        return {
            "specversion": self.specversion,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "subject": self.subject,
            "time": self.time,
            "datacontenttype": self.datacontenttype,
            "data": dict(self.data),
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as compact JSON with sorted keys."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))


def event_type(topic: str, payload: Mapping[str, Any]) -> str:
    """The versioned CloudEvents ``type`` of an outbox topic.

    ``payment_order.status_changed`` becomes ``paymux.payment_order.<new status>.v1``
    (for example ``paymux.payment_order.succeeded.v1``); every other topic becomes
    ``paymux.<topic>.v1``. A topic paymux does not know yet (a newer version wrote it) is
    mapped the same generic way, so the relay never stalls on it.
    """
    if topic == STATUS_CHANGED_TOPIC:
        status = PaymentStatus(str(payload["current"]))
        return f"{TYPE_PREFIX}.payment_order.{status.value}.{TYPE_VERSION}"
    return f"{TYPE_PREFIX}.{topic}.{TYPE_VERSION}"


def all_event_types() -> list[str]:
    """Every type paymux emits today, sorted (for documentation and tests)."""
    statuses = [
        f"{TYPE_PREFIX}.payment_order.{status.value}.{TYPE_VERSION}" for status in PaymentStatus
    ]
    simple = [f"{TYPE_PREFIX}.{topic}.{TYPE_VERSION}" for topic in SIMPLE_TOPICS]
    return sorted({*statuses, *simple})


def envelope(record: OutboxRecord, *, source: str = DEFAULT_SOURCE) -> CloudEvent:
    """The CloudEvent of ``record``: its id, key as ``subject``, payload as ``data``."""
    return CloudEvent(
        id=record.id,
        source=source,
        type=event_type(record.topic, record.payload),
        subject=record.key,
        time=record.created_at.isoformat(),
        data=record.payload,
    )
