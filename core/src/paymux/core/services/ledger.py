"""Reading the ledger: wallets, accounts, entries and transactions, per API client."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from paymux.core.domain.errors import LedgerAccountNotFoundError
from paymux.core.ledger.accounts import OwnerKind, Purpose
from paymux.core.ledger.records import LedgerAccount, LedgerTransaction, StoredPosting
from paymux.core.storage.unit_of_work import PaymentStore
from paymux.currencies import Money


@dataclass(frozen=True, slots=True)
class WalletBalance:
    """A seller's money in one currency, as the ledger says."""

    currency: str
    pending: Money
    """Paid by buyers, not releasable until the goods ship."""
    available: Money
    """Released: can be paid out."""
    in_transit: Money
    """Payouts on their way to the seller in this currency (pending payouts), converted
    ones counted in the currency they pay out in."""
    paid_out: Money
    """Paid to the seller in this currency so far (paid payouts; a payout converted from
    another currency counts here with the amount the seller received)."""
    disputed: Money
    """Frozen by open chargebacks: back to pending or available if won, gone if lost."""
    receivable: Money
    """What the seller owes (refunds or chargebacks after release beyond their available
    money); recovered from their next payout."""


class LedgerService:
    """Read-only views of the ledger. Writes happen inside the use cases that cause them."""

    def __init__(self, *, store: PaymentStore) -> None:
        self._store = store

    async def wallet(self, client_id: str, seller_id: str) -> list[WalletBalance]:
        """The seller's balances in every currency they have or had money in, or were paid
        in (empty if the seller has no money yet)."""
        async with self._store.begin() as uow:
            accounts = await uow.ledger.accounts_of(client_id, OwnerKind.SELLER, seller_id)
            paid_out = await uow.paid_out(client_id, seller_id)
        by_currency: dict[str, dict[Purpose, Money]] = {currency: {} for currency in paid_out}
        for account in accounts:
            by_currency.setdefault(account.key.currency, {})[account.key.purpose] = (
                account.normal_balance
            )
        return [
            WalletBalance(
                currency=currency,
                pending=balances.get(Purpose.SELLER_PENDING, Money.zero(currency)),
                available=balances.get(Purpose.SELLER_AVAILABLE, Money.zero(currency)),
                in_transit=balances.get(Purpose.SELLER_PAYOUT_IN_TRANSIT, Money.zero(currency)),
                paid_out=Money(paid_out.get(currency, 0), currency),
                disputed=balances.get(Purpose.SELLER_DISPUTED, Money.zero(currency)),
                receivable=balances.get(Purpose.SELLER_RECEIVABLE, Money.zero(currency)),
            )
            for currency, balances in sorted(by_currency.items())
        ]

    async def account(self, client_id: str, account_id: str) -> LedgerAccount:
        """One account with its balance."""
        async with self._store.begin() as uow:
            account = await uow.ledger.get_account(client_id, account_id)
        if account is None:
            raise LedgerAccountNotFoundError(f"no ledger account {account_id}")
        return account

    async def entries(
        self, client_id: str, account_id: str, *, after: int | None, limit: int
    ) -> tuple[LedgerAccount, Sequence[StoredPosting]]:
        """A page of the account's postings, oldest first, after posting ``after``."""
        async with self._store.begin() as uow:
            account = await uow.ledger.get_account(client_id, account_id)
            if account is None:
                raise LedgerAccountNotFoundError(f"no ledger account {account_id}")
            return account, await uow.ledger.entries(account_id, after=after, limit=limit)

    async def transaction(self, client_id: str, transaction_id: str) -> LedgerTransaction:
        """One journal transaction with its postings."""
        async with self._store.begin() as uow:
            found = await uow.ledger.get_transaction(client_id, transaction_id)
        if found is None:
            raise LedgerAccountNotFoundError(f"no ledger transaction {transaction_id}")
        return found
