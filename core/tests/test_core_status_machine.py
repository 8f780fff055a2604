"""The payment order status machine, checked over every pair of states."""

from __future__ import annotations

import itertools

import pytest

from paymux.core.domain.models import PaymentEvent
from paymux.core.domain.status import (
    TERMINAL_STATUSES,
    PaymentStatus,
    can_transition,
    next_status,
)

S = PaymentStatus
EXPECTED_MOVES = {
    (S.NOT_STARTED, S.EXECUTING), (S.NOT_STARTED, S.CANCELED), (S.NOT_STARTED, S.FAILED),
    (S.EXECUTING, S.PENDING), (S.EXECUTING, S.UNKNOWN), (S.EXECUTING, S.SUCCEEDED),
    (S.EXECUTING, S.FAILED), (S.EXECUTING, S.CANCELED), (S.EXECUTING, S.EXPIRED),
    (S.PENDING, S.SUCCEEDED), (S.PENDING, S.FAILED),
    (S.PENDING, S.CANCELED), (S.PENDING, S.EXPIRED),
    (S.UNKNOWN, S.EXECUTING), (S.UNKNOWN, S.PENDING), (S.UNKNOWN, S.SUCCEEDED),
    (S.UNKNOWN, S.FAILED), (S.UNKNOWN, S.CANCELED), (S.UNKNOWN, S.EXPIRED),
}  # fmt: skip


@pytest.mark.parametrize(("current", "reported"), list(itertools.product(S, S)))
def test_every_pair_of_states(current: PaymentStatus, reported: PaymentStatus) -> None:
    allowed = (current, reported) in EXPECTED_MOVES
    assert can_transition(current, reported) is allowed
    assert next_status(current, reported) == (reported if allowed else None)


@pytest.mark.parametrize("terminal", sorted(TERMINAL_STATUSES))
def test_terminal_states_never_move(terminal: PaymentStatus) -> None:
    assert terminal.is_terminal
    assert all(next_status(terminal, other) is None for other in S)


def test_a_timeout_is_never_a_failure() -> None:
    assert next_status(S.EXECUTING, S.UNKNOWN) is S.UNKNOWN
    assert not S.UNKNOWN.is_terminal


def test_the_same_report_twice_changes_nothing() -> None:
    assert all(next_status(status, status) is None for status in S)


def test_payment_status_is_derived_from_its_orders() -> None:
    def event(*statuses: PaymentStatus) -> PaymentEvent:
        from datetime import UTC, datetime

        from paymux.core.domain.models import PaymentOrder
        from paymux.currencies import Money

        now = datetime.now(UTC)
        orders = tuple(
            PaymentOrder(f"po{i}", "pay", "s", Money(1, "EUR"), Money(0, "EUR"), Money(0, "EUR"),
                         f"r{i}", status, None, now, now)
            for i, status in enumerate(statuses)
        )  # fmt: skip
        return PaymentEvent(
            "pay", "c", "b", "EUR", "DE", "card", "https://x", "p", now, orders, None
        )

    assert event(S.SUCCEEDED, S.SUCCEEDED).status is S.SUCCEEDED
    assert event(S.SUCCEEDED, S.PENDING).status is S.PENDING
    assert event(S.FAILED, S.UNKNOWN).status is S.UNKNOWN
    assert event(S.SUCCEEDED, S.FAILED).status is S.FAILED
