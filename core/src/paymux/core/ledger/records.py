"""The ledger as stored: accounts with balances, transactions with their postings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from paymux.core.ledger.accounts import AccountKey
from paymux.currencies import Money


@dataclass(frozen=True, slots=True)
class LedgerAccount:
    """An account and its balance.

    ``balance`` is the debit-positive sum of the postings; ``normal_balance`` is the same seen
    from the account's normal side (what a seller is owed is positive on a liability).
    """

    id: str
    key: AccountKey
    balance: Money

    @property
    def normal_balance(self) -> Money:
        """The balance with the sign of the account's normal side."""
        return self.balance if self.key.type.debit_normal else -self.balance


@dataclass(frozen=True, slots=True)
class StoredPosting:
    """A posting as stored, with its sequence number (for pagination)."""

    id: int
    transaction_id: str
    account_id: str
    amount: Money
    created_at: datetime


@dataclass(frozen=True, slots=True)
class LedgerTransaction:
    """A stored journal transaction."""

    id: str
    client_id: str
    reference: str
    kind: str
    details: dict[str, Any]
    created_at: datetime
    postings: tuple[StoredPosting, ...]
