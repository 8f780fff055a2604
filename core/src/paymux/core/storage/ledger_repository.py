"""Ledger reads and writes inside a unit of work.

Writes are append-only. Balances of guarded accounts change with a conditional ``UPDATE``
(never read-then-write), and each transaction's balance is checked again in SQL before the
surrounding database transaction commits.

Balance rows are updated once per database transaction, in :meth:`LedgerRepository.flush`,
in one global order (by account key): a database transaction that records several entries
(a payment with two sellers succeeding) then never locks balance rows in an order another
one could cross, so concurrent writers cannot deadlock.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from paymux.core.identifiers import new_id
from paymux.core.ledger.accounts import AccountKey, OwnerKind, Purpose
from paymux.core.ledger.journal import (
    InsufficientBalanceError,
    JournalEntry,
    UnbalancedTransactionError,
)
from paymux.core.ledger.records import LedgerAccount, LedgerTransaction, StoredPosting
from paymux.core.storage.tables import (
    LedgerAccountRow,
    LedgerPostingRow,
    LedgerTransactionRow,
    table_of,
)
from paymux.currencies import Money

_acc = table_of(LedgerAccountRow)
_tx = table_of(LedgerTransactionRow)
_post = table_of(LedgerPostingRow)


class LedgerRepository:
    """The ledger's SQL, bound to one open database transaction."""

    def __init__(self, session: AsyncSession, dialect: str) -> None:
        self._session = session
        self._dialect = dialect
        self._deltas: dict[AccountKey, tuple[str, int]] = {}
        """Balance changes recorded in this transaction, applied by :meth:`flush`."""

    async def _execute(self, statement: Any, parameters: Any = None) -> sa.CursorResult[Any]:
        return cast(sa.CursorResult[Any], await self._session.execute(statement, parameters))

    def _insert(self, table: sa.Table) -> Any:
        return (postgresql.insert if self._dialect == "postgresql" else sqlite.insert)(table)

    # -- writes --------------------------------------------------------------------------

    async def record_all(
        self, client_id: str, entries: Sequence[JournalEntry], *, now: datetime
    ) -> list[str | None]:
        """Record several entries of one step, opening their accounts in one sorted pass.

        Use it whenever a step records more than one entry, so that accounts are created
        (and their rows touched) in the same global order by every writer.
        """
        await self.ensure_accounts((p.account for e in entries for p in e.postings), now=now)
        return [await self.record(client_id, entry, now=now) for entry in entries]

    async def record(self, client_id: str, entry: JournalEntry, *, now: datetime) -> str | None:
        """Store ``entry``; ``None`` if its reference was recorded before (nothing changes).

        Raises :class:`InsufficientBalanceError` when a guarded account would go below zero
        and :class:`UnbalancedTransactionError` if the stored postings do not balance; either
        way the caller's database transaction must roll back.
        """
        transaction_id = new_id("ltx")
        inserted = (
            await self._execute(
                self._insert(_tx)
                .values(
                    id=transaction_id,
                    client_id=client_id,
                    reference=entry.reference,
                    kind=entry.kind,
                    details=json.dumps(dict(entry.metadata), sort_keys=True),
                    created_at=now,
                )
                .on_conflict_do_nothing(index_elements=["reference"])
                .returning(_tx.c.id)
            )
        ).scalar_one_or_none()
        if inserted is None:
            return None
        accounts = await self.ensure_accounts([p.account for p in entry.postings], now=now)
        await self._session.execute(
            sa.insert(_post),
            [
                {
                    "transaction_id": transaction_id,
                    "account_id": accounts[posting.account],
                    "amount_minor": posting.amount.minor,
                    "currency": posting.amount.currency,
                    "created_at": now,
                }
                for posting in entry.postings
            ],
        )
        for posting in entry.postings:
            key = posting.account
            if not key.hot:
                account_id, delta = self._deltas.get(key, (accounts[key], 0))
                self._deltas[key] = (account_id, delta + posting.amount.minor)
        await self._check_balanced(transaction_id)
        return transaction_id

    async def flush(self) -> None:
        """Apply this transaction's balance changes, in account-key order (no deadlocks).

        Called by the unit of work before it commits. Raises
        :class:`InsufficientBalanceError` when a guarded account would go below zero: the
        whole database transaction then rolls back.
        """
        deltas, self._deltas = self._deltas, {}
        for key in sorted(deltas):
            account_id, delta = deltas[key]
            if delta:
                await self._apply_delta(account_id, key, delta)

    async def ensure_accounts(
        self, keys: Iterable[AccountKey], *, now: datetime
    ) -> dict[AccountKey, str]:
        """The ids of these accounts, opening the ones that do not exist yet.

        One query when they all exist (the usual case); missing ones are inserted in key
        order (``ON CONFLICT DO NOTHING``, so concurrent openers agree) and read back.
        """
        wanted = sorted(set(keys))
        found = await self._account_ids(wanted)
        missing = [key for key in wanted if key not in found]
        for key in missing:
            await self._execute(
                self._insert(_acc)
                .values(
                    id=new_id("acc"),
                    client_id=key.client_id,
                    owner_kind=key.owner_kind.value,
                    owner_id=key.owner_id,
                    purpose=key.purpose.value,
                    currency=key.currency,
                    type=key.type.value,
                    balance_minor=None if key.hot else 0,
                    created_at=now,
                )
                .on_conflict_do_nothing(
                    index_elements=["client_id", "owner_kind", "owner_id", "purpose", "currency"]
                )
            )
        if missing:
            found |= await self._account_ids(missing)
        return found

    async def _account_ids(self, keys: Sequence[AccountKey]) -> dict[AccountKey, str]:
        if not keys:
            return {}
        rows = (
            await self._execute(
                sa.select(
                    _acc.c.id,
                    _acc.c.client_id,
                    _acc.c.owner_kind,
                    _acc.c.owner_id,
                    _acc.c.purpose,
                    _acc.c.currency,
                ).where(sa.or_(*(sa.and_(*_key_filter(key)) for key in keys)))
            )
        ).all()
        return {
            AccountKey(
                row.client_id,
                OwnerKind(row.owner_kind),
                row.owner_id,
                Purpose(row.purpose),
                row.currency,
            ): row.id
            for row in rows
        }

    async def _apply_delta(self, account_id: str, key: AccountKey, delta: int) -> None:
        statement = (
            sa.update(_acc)
            .where(_acc.c.id == account_id)
            .values(balance_minor=_acc.c.balance_minor + delta)
        )
        if key.non_negative:
            new_balance = _acc.c.balance_minor + delta
            statement = statement.where(
                new_balance >= 0 if key.type.debit_normal else new_balance <= 0
            )
        if (await self._execute(statement)).rowcount != 1:
            raise InsufficientBalanceError(
                f"{key.purpose} of {key.owner_kind} {key.owner_id} would go below zero"
            )

    async def _check_balanced(self, transaction_id: str) -> None:
        unbalanced = (
            await self._execute(
                sa.select(_post.c.currency, sa.func.sum(_post.c.amount_minor))
                .where(_post.c.transaction_id == transaction_id)
                .group_by(_post.c.currency)
                .having(sa.func.sum(_post.c.amount_minor) != 0)
            )
        ).all()
        if unbalanced:
            raise UnbalancedTransactionError(
                f"transaction {transaction_id} does not balance in the database: {unbalanced}"
            )

    # -- reads ---------------------------------------------------------------------------

    async def locked_normal_balances(
        self, keys: Iterable[AccountKey], *, now: datetime
    ) -> dict[AccountKey, Money]:
        """Several accounts' normal balances, their rows locked in key order (no deadlocks)."""
        wanted = sorted(set(keys))
        await self.ensure_accounts(wanted, now=now)
        return {key: await self.locked_normal_balance(key, now=now) for key in wanted}

    async def locked_normal_balance(self, key: AccountKey, *, now: datetime) -> Money:
        """The account's normal balance, with its row locked until this transaction ends.

        For decisions that depend on a balance (how much of a refund the seller's available
        balance covers); the lock keeps it from changing before the entry is written.
        """
        if key.hot:
            raise ValueError("hot accounts have no balance row to lock")
        account_id = (await self.ensure_accounts([key], now=now))[key]
        balance = (
            await self._execute(
                sa.select(_acc.c.balance_minor).where(_acc.c.id == account_id).with_for_update()
            )
        ).scalar_one()
        unflushed = self._deltas.get(key, (account_id, 0))[1]
        signed = Money(int(balance) + unflushed, key.currency)
        return signed if key.type.debit_normal else -signed

    async def accounts_of(
        self, client_id: str, owner_kind: OwnerKind, owner_id: str
    ) -> list[LedgerAccount]:
        """Every account of one owner, with balances."""
        rows = (
            await self._execute(
                sa.select(_acc)
                .where(
                    _acc.c.client_id == client_id,
                    _acc.c.owner_kind == owner_kind.value,
                    _acc.c.owner_id == owner_id,
                )
                .order_by(_acc.c.currency, _acc.c.purpose)
            )
        ).all()
        return [await self._account(row._mapping) for row in rows]

    async def get_account(self, client_id: str, account_id: str) -> LedgerAccount | None:
        """One account of ``client_id``, with its balance."""
        row = (
            await self._execute(
                sa.select(_acc).where(_acc.c.id == account_id, _acc.c.client_id == client_id)
            )
        ).one_or_none()
        return None if row is None else await self._account(row._mapping)

    async def all_accounts(self) -> list[LedgerAccount]:
        """Every account of every client, with balances (for audits and tests)."""
        rows = (await self._execute(sa.select(_acc).order_by(_acc.c.id))).all()
        return [await self._account(row._mapping) for row in rows]

    async def _account(self, row: Any) -> LedgerAccount:
        key = AccountKey(
            client_id=row["client_id"],
            owner_kind=OwnerKind(row["owner_kind"]),
            owner_id=row["owner_id"],
            purpose=Purpose(row["purpose"]),
            currency=row["currency"],
        )
        balance = row["balance_minor"]
        if balance is not None:
            balance += self._deltas.get(key, (row["id"], 0))[1]
        else:
            balance = (
                await self._execute(
                    sa.select(sa.func.coalesce(sa.func.sum(_post.c.amount_minor), 0)).where(
                        _post.c.account_id == row["id"]
                    )
                )
            ).scalar_one()
        return LedgerAccount(id=row["id"], key=key, balance=Money(int(balance), key.currency))

    async def get_transaction(
        self, client_id: str, transaction_id: str
    ) -> LedgerTransaction | None:
        """A transaction of ``client_id`` with its postings."""
        row = (
            await self._execute(
                sa.select(_tx).where(_tx.c.id == transaction_id, _tx.c.client_id == client_id)
            )
        ).one_or_none()
        if row is None:
            return None
        postings = (
            await self._execute(
                sa.select(_post)
                .where(_post.c.transaction_id == transaction_id)
                .order_by(_post.c.id)
            )
        ).all()
        return LedgerTransaction(
            id=row.id,
            client_id=row.client_id,
            reference=row.reference,
            kind=row.kind,
            details=json.loads(row.details),
            created_at=row.created_at,
            postings=tuple(_posting(p) for p in postings),
        )

    async def entries(
        self, account_id: str, *, after: int | None, limit: int
    ) -> Sequence[StoredPosting]:
        """The account's postings in the order they were written, after posting ``after``."""
        query = sa.select(_post).where(_post.c.account_id == account_id)
        if after is not None:
            query = query.where(_post.c.id > after)
        rows = (await self._execute(query.order_by(_post.c.id).limit(limit))).all()
        return [_posting(row) for row in rows]

    async def sellers_with_available(
        self, currency: str, *, at_least: int
    ) -> list[tuple[str, str]]:
        """``(client_id, seller_id)`` of every seller whose available balance in ``currency`` is
        at least ``at_least`` minor units (for the payout batch)."""
        rows: list[Any] = list(
            (
                await self._execute(
                    sa.select(_acc.c.client_id, _acc.c.owner_id)
                    .where(
                        _acc.c.purpose == Purpose.SELLER_AVAILABLE.value,
                        _acc.c.currency == currency,
                        _acc.c.balance_minor <= -at_least,  # a liability: credit-negative
                    )
                    .order_by(_acc.c.client_id, _acc.c.owner_id)
                )
            ).all()
        )
        return [(str(client), str(seller)) for client, seller in rows]

    async def totals_by_currency(self) -> dict[str, int]:
        """The sum of every posting per currency: zero in a sound ledger."""
        rows: list[Any] = list(
            (
                await self._execute(
                    sa.select(_post.c.currency, sa.func.sum(_post.c.amount_minor)).group_by(
                        _post.c.currency
                    )
                )
            ).all()
        )
        return {str(currency): int(total) for currency, total in rows}


def _key_filter(key: AccountKey) -> list[Any]:
    return [
        _acc.c.client_id == key.client_id,
        _acc.c.owner_kind == key.owner_kind.value,
        _acc.c.owner_id == key.owner_id,
        _acc.c.purpose == key.purpose.value,
        _acc.c.currency == key.currency,
    ]


def _posting(row: Any) -> StoredPosting:
    return StoredPosting(
        id=row.id,
        transaction_id=row.transaction_id,
        account_id=row.account_id,
        amount=Money(row.amount_minor, row.currency),
        created_at=row.created_at,
    )
