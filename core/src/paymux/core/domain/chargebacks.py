"""Chargebacks: a buyer's bank disputes a payment and the provider takes the money back.

A chargeback's status: ``opened -> won | lost``. Opening one freezes the disputed money (the
provider withdraws it); won gives it back, lost lets it go to the buyer. Terminal states
never change. A chargeback is split into parts per order of the payment, in proportion to
what each order still holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from paymux.currencies import Money


class DisputeStatus(StrEnum):
    """Where a chargeback stands."""

    OPENED = "opened"
    WON = "won"
    LOST = "lost"


def next_dispute_status(current: DisputeStatus, reported: DisputeStatus) -> DisputeStatus | None:
    """The chargeback's status after a report, or ``None`` when the report changes nothing."""
    if current is DisputeStatus.OPENED and reported is not DisputeStatus.OPENED:
        return reported
    return None


@dataclass(frozen=True, slots=True)
class ChargebackPart:
    """The share of a chargeback taken from one payment order.

    ``released`` says whether the order had shipped when the chargeback opened: the part was
    then taken from the seller's available money (and the platform's fees) rather than from
    the seller's pending money.
    """

    payment_order_id: str
    amount: Money
    released: bool


@dataclass(frozen=True, slots=True)
class Chargeback:
    """A dispute on a payment, as the provider reported it."""

    id: str
    payment_event_id: str
    client_id: str
    provider: str
    dispute_id: str
    amount: Money
    unallocated: Money
    """What no order could carry (the payment held less than the dispute): the platform's."""
    status: DisputeStatus
    reason: str | None
    parts: tuple[ChargebackPart, ...]
    created_at: datetime
    updated_at: datetime
