"""The ledger in the database: once per reference, guarded balances, append-only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from paymux.core.ledger.accounts import (
    OwnerKind,
    Purpose,
    clearing_account,
    platform_account,
    seller_account,
)
from paymux.core.ledger.journal import (
    InsufficientBalanceError,
    JournalEntry,
    UnbalancedTransactionError,
    credit,
    debit,
)
from paymux.core.storage.database import Database
from paymux.core.storage.unit_of_work import PaymentStore
from paymux.currencies import Money
from paymux_test_support import count_rows

NOW = datetime(2026, 11, 24, tzinfo=UTC)
CLEARING = clearing_account("c1", "sandbox", "EUR")
PENDING = seller_account("c1", "s1", Purpose.SELLER_PENDING, "EUR")
AVAILABLE = seller_account("c1", "s1", Purpose.SELLER_AVAILABLE, "EUR")
COMMISSION = platform_account("c1", Purpose.COMMISSION, "EUR")


def eur(minor: int) -> Money:
    return Money(minor, "EUR")


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[PaymentStore]:
    database = Database(database_url)
    yield PaymentStore(database)
    await database.dispose()


def paid(reference: str, minor: int) -> JournalEntry:
    return JournalEntry(
        reference, "payment_succeeded", (debit(CLEARING, eur(minor)), credit(PENDING, eur(minor)))
    )


def released(reference: str, minor: int, commission: int) -> JournalEntry:
    return JournalEntry(
        reference,
        "shipment_confirmed",
        (
            debit(PENDING, eur(minor)),
            credit(AVAILABLE, eur(minor - commission)),
            credit(COMMISSION, eur(commission)),
        ),
    )


async def test_the_same_reference_is_recorded_once(store: PaymentStore, database_url: str) -> None:
    async with store.begin() as uow:
        first = await uow.ledger.record("c1", paid("p1", 1000), now=NOW)
    async with store.begin() as uow:
        second = await uow.ledger.record("c1", paid("p1", 1000), now=NOW)
    assert first is not None
    assert second is None
    assert count_rows(database_url)["ledger_posting"] == 2
    async with store.begin() as uow:
        accounts = await uow.ledger.accounts_of("c1", OwnerKind.SELLER, "s1")
        assert [(a.key.purpose, a.normal_balance) for a in accounts] == [
            (Purpose.SELLER_PENDING, eur(1000))
        ]
        assert await uow.ledger.totals_by_currency() == {"EUR": 0}


async def test_hot_accounts_derive_their_balance_from_postings(store: PaymentStore) -> None:
    async with store.begin() as uow:
        await uow.ledger.record("c1", paid("p1", 1000), now=NOW)
        await uow.ledger.record("c1", paid("p2", 500), now=NOW)
        await uow.ledger.record("c1", released("s1", 1000, 150), now=NOW)
    async with store.begin() as uow:
        (commission,) = await uow.ledger.accounts_of("c1", OwnerKind.PLATFORM, "platform")
        (clearing,) = await uow.ledger.accounts_of("c1", OwnerKind.PROVIDER, "sandbox")
        sellers = {
            a.key.purpose: a.normal_balance
            for a in await uow.ledger.accounts_of("c1", OwnerKind.SELLER, "s1")
        }
    assert commission.normal_balance == eur(150)
    assert clearing.normal_balance == eur(1500)
    assert sellers == {Purpose.SELLER_PENDING: eur(500), Purpose.SELLER_AVAILABLE: eur(850)}


async def test_a_guarded_balance_never_goes_below_zero(
    store: PaymentStore, database_url: str
) -> None:
    async with store.begin() as uow:
        await uow.ledger.record("c1", paid("p1", 1000), now=NOW)
    before = count_rows(database_url)
    with pytest.raises(InsufficientBalanceError):
        async with store.begin() as uow:
            await uow.ledger.record("c1", released("too-much", 1001, 0), now=NOW)
    assert count_rows(database_url) == before


async def test_the_database_checks_the_balance_again(
    store: PaymentStore, database_url: str
) -> None:
    entry = paid("p1", 1000)
    forged = (entry.postings[0], credit(PENDING, eur(999)))
    object.__setattr__(entry, "postings", forged)  # bypass the check in code
    with pytest.raises(UnbalancedTransactionError, match="in the database"):
        async with store.begin() as uow:
            await uow.ledger.record("c1", entry, now=NOW)
    assert count_rows(database_url)["ledger_transaction"] == 0


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_posting SET amount_minor = 0",
        "DELETE FROM ledger_posting",
        "DELETE FROM ledger_transaction",
    ],
)
async def test_postings_and_transactions_are_append_only(
    store: PaymentStore, statement: str
) -> None:
    async with store.begin() as uow:
        await uow.ledger.record("c1", paid("p1", 1000), now=NOW)
    with pytest.raises(DBAPIError, match="append-only"):
        async with store.database.transaction() as session:
            await session.execute(sa.text(statement))
    async with store.begin() as uow:
        assert await uow.ledger.totals_by_currency() == {"EUR": 0}
