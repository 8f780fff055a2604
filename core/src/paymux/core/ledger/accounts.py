"""The chart of accounts.

Every account belongs to one API client (a marketplace), has an owner (the platform, a
seller, or a provider), a purpose, one currency, and a type that says which side is its
normal balance. Postings are signed: a debit is positive, a credit negative, so every
transaction sums to zero per currency and so does the whole ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class AccountType(StrEnum):
    """The four account types paymux uses."""

    ASSET = "asset"
    LIABILITY = "liability"
    REVENUE = "revenue"
    EXPENSE = "expense"

    @property
    def debit_normal(self) -> bool:
        """Assets and expenses grow with debits; liabilities and revenue with credits."""
        return self in (AccountType.ASSET, AccountType.EXPENSE)


class OwnerKind(StrEnum):
    """Who an account belongs to."""

    PLATFORM = "platform"
    SELLER = "seller"
    PROVIDER = "provider"


class Purpose(StrEnum):
    """What an account is for. Each purpose has one type and one owner kind."""

    PSP_CLEARING = "psp_clearing"
    """Money a provider holds for the platform (asset, per provider)."""
    SELLER_PENDING = "seller_pending"
    """Paid by the buyer, not yet releasable: the goods have not shipped (liability)."""
    SELLER_AVAILABLE = "seller_available"
    """Releasable to the seller (liability); never below zero."""
    SELLER_RECEIVABLE = "seller_receivable"
    """What a seller owes the platform: a refund after release that exceeded their
    available balance (asset). Recovered from later releases."""
    SELLER_PAYOUT_IN_TRANSIT = "seller_payout_in_transit"
    """Sent to the seller through a provider, not confirmed paid yet (liability)."""
    SELLER_DISPUTED = "seller_disputed"
    """A seller's money frozen by an open chargeback (liability); never below zero."""
    PSP_DISPUTED = "psp_disputed"
    """Money a provider withdrew for open chargebacks (asset, per provider): back to
    clearing if won, written off if lost."""
    COMMISSION = "commission"
    """The platform's commission (revenue)."""
    LOGISTICS_FEES = "logistics_fees"
    """Logistics fees the platform charged sellers (revenue)."""
    PSP_FEES = "psp_fees"
    """What the providers charged the platform (expense); booked by reconciliation."""
    CHARGEBACK_LOSSES = "chargeback_losses"
    """Lost chargebacks no order could carry, e.g. a dispute over money already refunded
    (expense)."""
    BANK = "bank"
    """The platform's bank account: what providers paid out to it (asset); booked by
    reconciliation from settlement payouts."""
    FX_CONVERSION = "fx_conversion"
    """The platform's position in each currency from conversions (asset, one per currency):
    a conversion debits it in the currency given away and credits it in the currency got,
    so every conversion balances per currency. Its balances are the platform's open
    currency positions."""
    FX_GAIN_LOSS = "fx_gain_loss"
    """What conversions gained (credit) or lost (debit) against their locked quotes: the
    difference between a quote and what the provider settled (revenue, per currency)."""
    LATE_PAYMENTS = "late_payments"
    """Money a buyer paid after paymux had expired the payment: owed back to the buyer until
    the automatic refund succeeds (liability)."""


PURPOSES: dict[Purpose, tuple[AccountType, OwnerKind]] = {
    Purpose.PSP_CLEARING: (AccountType.ASSET, OwnerKind.PROVIDER),
    Purpose.SELLER_PENDING: (AccountType.LIABILITY, OwnerKind.SELLER),
    Purpose.SELLER_AVAILABLE: (AccountType.LIABILITY, OwnerKind.SELLER),
    Purpose.SELLER_RECEIVABLE: (AccountType.ASSET, OwnerKind.SELLER),
    Purpose.SELLER_PAYOUT_IN_TRANSIT: (AccountType.LIABILITY, OwnerKind.SELLER),
    Purpose.SELLER_DISPUTED: (AccountType.LIABILITY, OwnerKind.SELLER),
    Purpose.PSP_DISPUTED: (AccountType.ASSET, OwnerKind.PROVIDER),
    Purpose.COMMISSION: (AccountType.REVENUE, OwnerKind.PLATFORM),
    Purpose.LOGISTICS_FEES: (AccountType.REVENUE, OwnerKind.PLATFORM),
    Purpose.PSP_FEES: (AccountType.EXPENSE, OwnerKind.PLATFORM),
    Purpose.CHARGEBACK_LOSSES: (AccountType.EXPENSE, OwnerKind.PLATFORM),
    Purpose.LATE_PAYMENTS: (AccountType.LIABILITY, OwnerKind.PLATFORM),
    Purpose.BANK: (AccountType.ASSET, OwnerKind.PLATFORM),
    Purpose.FX_CONVERSION: (AccountType.ASSET, OwnerKind.PLATFORM),
    Purpose.FX_GAIN_LOSS: (AccountType.REVENUE, OwnerKind.PLATFORM),
}

NON_NEGATIVE: frozenset[Purpose] = frozenset(
    {
        Purpose.SELLER_PENDING,
        Purpose.SELLER_AVAILABLE,
        Purpose.SELLER_PAYOUT_IN_TRANSIT,
        Purpose.SELLER_DISPUTED,
    }
)
"""Accounts whose normal balance may never go below zero (guarded in the database)."""

HOT: frozenset[OwnerKind] = frozenset({OwnerKind.PLATFORM, OwnerKind.PROVIDER})
"""Owners whose accounts every payment touches: their balances are derived from postings
instead of one balance row that every writer would have to lock."""


@dataclass(frozen=True, slots=True, order=True)
class AccountKey:
    """Identifies an account: client, owner, purpose and currency."""

    client_id: str
    owner_kind: OwnerKind
    owner_id: str
    purpose: Purpose
    currency: str

    def __post_init__(self) -> None:
        owner_kind = PURPOSES[self.purpose][1]
        if owner_kind is not self.owner_kind:
            raise ValueError(
                f"{self.purpose} accounts belong to a {owner_kind}, not a {self.owner_kind}"
            )

    @property
    def type(self) -> AccountType:
        """The account's type, fixed by its purpose."""
        return PURPOSES[self.purpose][0]

    @property
    def non_negative(self) -> bool:
        """Whether the database refuses postings that take the balance below zero."""
        return self.purpose in NON_NEGATIVE

    @property
    def hot(self) -> bool:
        """Whether the balance is derived from postings rather than kept in a row."""
        return self.owner_kind in HOT


def seller_account(client_id: str, seller_id: str, purpose: Purpose, currency: str) -> AccountKey:
    """A seller's account."""
    return AccountKey(client_id, OwnerKind.SELLER, seller_id, purpose, currency)


def platform_account(client_id: str, purpose: Purpose, currency: str) -> AccountKey:
    """One of the platform's own accounts."""
    return AccountKey(client_id, OwnerKind.PLATFORM, "platform", purpose, currency)


def clearing_account(client_id: str, provider: str, currency: str) -> AccountKey:
    """What ``provider`` holds for the platform."""
    return AccountKey(client_id, OwnerKind.PROVIDER, provider, Purpose.PSP_CLEARING, currency)


def disputed_account(client_id: str, provider: str, currency: str) -> AccountKey:
    """What ``provider`` withdrew for open chargebacks."""
    return AccountKey(client_id, OwnerKind.PROVIDER, provider, Purpose.PSP_DISPUTED, currency)
