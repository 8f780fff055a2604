"""Payouts: a seller's available money sent to them through a provider.

Status: ``pending -> paid | failed``. A failed payout is reversed: the money goes back to the
seller's available balance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from paymux.currencies import Money


class PayoutStatus(StrEnum):
    """Where a payout stands."""

    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class PayoutDestination:
    """Where a seller is paid at the provider, from the seller's payout method.

    ``account`` is what the provider pays into: a Stripe connected account (``acct_...``), an
    Adyen balance account, an IBAN. ``holder_name`` and ``details`` (for example ``bic``)
    carry what some rails need beside it.
    """

    account: str
    holder_name: str | None = None
    details: Mapping[str, str] = field(default_factory=dict)


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
    destination: PayoutDestination | None = None
    """Where the payout goes, as the seller's payout method said when it was opened."""


@dataclass(frozen=True, slots=True)
class SellerPayoutMethod:
    """Through which provider, and to which account there, a seller is paid.

    ``account`` is the seller's account at the provider (a Stripe connected account, an
    Adyen balance account, an IBAN); ``details`` holds what some rails need beside it
    (``bic``).
    """

    client_id: str
    seller_id: str
    provider: str
    account: str
    holder_name: str | None
    details: dict[str, str]
    created_at: datetime
    updated_at: datetime
