"""Journal transactions: two or more postings that balance per currency."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from paymux.core.ledger.accounts import AccountKey
from paymux.currencies import Money


class UnbalancedTransactionError(ValueError):
    """A journal transaction whose postings do not sum to zero in every currency."""

    code = "unbalanced-transaction"


class InsufficientBalanceError(Exception):
    """A posting would take a guarded account below zero; the whole transaction is refused."""

    code = "insufficient-balance"


@dataclass(frozen=True, slots=True)
class Posting:
    """One line of a transaction: a debit (positive) or credit (negative) to an account."""

    account: AccountKey
    amount: Money

    def __post_init__(self) -> None:
        if self.amount.currency != self.account.currency:
            raise UnbalancedTransactionError(
                f"a {self.amount.currency} posting to a {self.account.currency} account"
            )


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """A balanced set of postings for one business fact, not yet stored.

    ``reference`` is unique in the ledger: recording the same fact twice stores it once.
    """

    reference: str
    kind: str
    postings: tuple[Posting, ...]
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        postings = tuple(p for p in self.postings if not p.amount.is_zero)
        object.__setattr__(self, "postings", postings)
        if len(postings) < 2:
            raise UnbalancedTransactionError(f"{self.reference}: needs two or more postings")
        totals: dict[str, int] = defaultdict(int)
        for posting in postings:
            totals[posting.amount.currency] += posting.amount.minor
        unbalanced = {currency: total for currency, total in totals.items() if total}
        if unbalanced:
            raise UnbalancedTransactionError(
                f"{self.reference}: postings do not balance: {unbalanced}"
            )


def debit(account: AccountKey, amount: Money) -> Posting:
    """A debit of ``amount`` (which must not be negative)."""
    if amount.is_negative:
        raise ValueError("debit a non-negative amount; use credit for the other side")
    return Posting(account, amount)


def credit(account: AccountKey, amount: Money) -> Posting:
    """A credit of ``amount`` (which must not be negative)."""
    if amount.is_negative:
        raise ValueError("credit a non-negative amount; use debit for the other side")
    return Posting(account, -amount)
