"""Payouts: a seller's available money sent to them through a provider.

Status: ``pending -> paid | failed``. A failed payout is reversed: the money goes back to the
seller's available balance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from paymux.currencies import Money


class PayoutStatus(StrEnum):
    """Where a payout stands."""

    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Payout:
    """A payout of ``amount`` to one seller."""

    id: str
    client_id: str
    seller_id: str
    provider: str
    amount: Money
    status: PayoutStatus
    failure_code: str | None
    psp_idempotency_key: str
    psp_reference: str | None
    created_at: datetime
    updated_at: datetime
