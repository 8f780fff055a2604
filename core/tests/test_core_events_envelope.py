"""CloudEvents envelopes of outbox events: every topic maps to a versioned type."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from paymux.core.domain.chargebacks import DisputeStatus
from paymux.core.domain.payouts import PayoutStatus
from paymux.core.domain.refunds import RefundStatus
from paymux.core.domain.status import PaymentStatus
from paymux.core.events import (
    SIMPLE_TOPICS,
    OutboxRecord,
    all_event_types,
    envelope,
    event_type,
)

AT = datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=UTC)

EMITTED_TOPICS = {
    "payment.created",
    "payment_order.shipped",
    "refund.created",
    *(f"refund.{s.value}" for s in RefundStatus if s is not RefundStatus.PENDING),
    "payout.created",
    *(f"payout.{s.value}" for s in PayoutStatus if s is not PayoutStatus.PENDING),
    *(f"chargeback.{s.value}" for s in DisputeStatus),
}


@pytest.mark.parametrize("topic", sorted(EMITTED_TOPICS))
def test_every_emitted_topic_has_a_versioned_type(topic: str) -> None:
    assert topic in SIMPLE_TOPICS
    assert event_type(topic, {}) == f"paymux.{topic}.v1"
    assert event_type(topic, {}) in all_event_types()


@pytest.mark.parametrize("status", list(PaymentStatus))
def test_status_changes_are_typed_by_the_new_status(status: PaymentStatus) -> None:
    payload = {"previous": "pending", "current": status.value}
    assert event_type("payment_order.status_changed", payload) == (
        f"paymux.payment_order.{status.value}.v1"
    )
    assert event_type("payment_order.status_changed", payload) in all_event_types()


def test_unknown_status_is_refused_and_unknown_topics_map_generically() -> None:
    with pytest.raises(ValueError, match="teleported"):
        event_type("payment_order.status_changed", {"current": "teleported"})
    assert event_type("wallet.frozen", {}) == "paymux.wallet.frozen.v1"


def test_the_envelope_carries_id_subject_time_and_data() -> None:
    payload = {"payment_id": "pay_1", "current": "succeeded", "previous": "pending"}
    record = OutboxRecord("evt_1", "payment_order.status_changed", "pay_1", payload, AT)
    event = envelope(record, source="urn:shop:payments")
    assert event.to_dict() == {
        "specversion": "1.0",
        "id": "evt_1",
        "source": "urn:shop:payments",
        "type": "paymux.payment_order.succeeded.v1",
        "subject": "pay_1",
        "time": "2026-03-01T12:30:05.123456+00:00",
        "datacontenttype": "application/json",
        "data": payload,
    }
    assert json.loads(event.to_json()) == event.to_dict()
    assert envelope(record).source == "paymux"
