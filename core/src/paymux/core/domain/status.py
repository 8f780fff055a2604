"""The payment order status machine.

``NOT_STARTED -> EXECUTING -> PENDING -> SUCCEEDED | FAILED | CANCELED | EXPIRED``, with
``UNKNOWN`` when the outcome of a call to the PSP is not known (a timeout is never a failure).
Terminal states never change again; :func:`next_status` is the one place that decides.
"""

from __future__ import annotations

from enum import StrEnum


class PaymentStatus(StrEnum):
    """Where a payment order stands."""

    NOT_STARTED = "not_started"
    EXECUTING = "executing"
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    EXPIRED = "expired"
    UNKNOWN = "unknown"

    @property
    def is_terminal(self) -> bool:
        """True for the states a payment order never leaves."""
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES: frozenset[PaymentStatus] = frozenset(
    {
        PaymentStatus.SUCCEEDED,
        PaymentStatus.FAILED,
        PaymentStatus.CANCELED,
        PaymentStatus.EXPIRED,
    }
)

_S = PaymentStatus
ALLOWED_TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    _S.NOT_STARTED: frozenset({_S.EXECUTING, _S.CANCELED, _S.FAILED}),
    _S.EXECUTING: frozenset(
        {_S.PENDING, _S.UNKNOWN, _S.SUCCEEDED, _S.FAILED, _S.CANCELED, _S.EXPIRED}
    ),
    _S.PENDING: frozenset({_S.SUCCEEDED, _S.FAILED, _S.CANCELED, _S.EXPIRED}),
    _S.UNKNOWN: frozenset(
        {_S.EXECUTING, _S.PENDING, _S.SUCCEEDED, _S.FAILED, _S.CANCELED, _S.EXPIRED}
    ),
    _S.SUCCEEDED: frozenset(),
    _S.FAILED: frozenset(),
    _S.CANCELED: frozenset(),
    _S.EXPIRED: frozenset(),
}


def can_transition(current: PaymentStatus, target: PaymentStatus) -> bool:
    """Whether a payment order in ``current`` may move to ``target``."""
    return target in ALLOWED_TRANSITIONS[current]


def next_status(current: PaymentStatus, reported: PaymentStatus) -> PaymentStatus | None:
    """The status after a provider reports ``reported`` for an order in ``current``.

    Returns ``None`` when the report changes nothing: a duplicate, a late event (``pending``
    after ``succeeded``), or anything reported for an order in a terminal state. Reports are
    applied monotonically, so delivering them twice or out of order is harmless.
    """
    if can_transition(current, reported):
        return reported
    return None
