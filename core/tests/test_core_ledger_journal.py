"""Journal entries balance per currency; the default posting rules keep them so."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paymux.core.ledger.accounts import (
    AccountKey,
    OwnerKind,
    Purpose,
    clearing_account,
    platform_account,
    seller_account,
)
from paymux.core.ledger.journal import (
    JournalEntry,
    Posting,
    UnbalancedTransactionError,
    credit,
    debit,
)
from paymux.core.ledger.rules import (
    OrderFacts,
    PaymentSucceeded,
    RefundSucceeded,
    ShipmentConfirmed,
    default_entry,
    release_shares,
)
from paymux.currencies import Money

CLEARING = clearing_account("c1", "sandbox", "EUR")
PENDING = seller_account("c1", "s1", Purpose.SELLER_PENDING, "EUR")


def eur(minor: int) -> Money:
    return Money(minor, "EUR")


def test_a_balanced_entry_is_accepted() -> None:
    entry = JournalEntry("r1", "test", (debit(CLEARING, eur(100)), credit(PENDING, eur(100))))
    assert [p.amount.minor for p in entry.postings] == [100, -100]


@pytest.mark.parametrize(
    "postings",
    [
        (debit(CLEARING, eur(100)), credit(PENDING, eur(99))),
        (debit(CLEARING, eur(100)),),
        (debit(CLEARING, eur(0)), credit(PENDING, eur(0))),
        (),
    ],
    ids=["unbalanced", "one-posting", "all-zero", "empty"],
)
def test_unbalanced_or_thin_entries_are_refused(postings: tuple[Posting, ...]) -> None:
    with pytest.raises(UnbalancedTransactionError):
        JournalEntry("r1", "test", postings)


def test_balance_is_checked_per_currency() -> None:
    usd_clearing = clearing_account("c1", "sandbox", "USD")
    usd_pending = seller_account("c1", "s1", Purpose.SELLER_PENDING, "USD")
    with pytest.raises(UnbalancedTransactionError):
        JournalEntry(
            "r1",
            "fx",
            (debit(CLEARING, eur(100)), credit(usd_pending, Money(100, "USD"))),
        )
    JournalEntry(
        "r2",
        "two currencies",
        (
            debit(CLEARING, eur(100)),
            credit(PENDING, eur(100)),
            debit(usd_clearing, Money(5, "USD")),
            credit(usd_pending, Money(5, "USD")),
        ),
    )


def test_a_posting_must_be_in_its_accounts_currency() -> None:
    with pytest.raises(UnbalancedTransactionError):
        Posting(CLEARING, Money(1, "USD"))


def test_accounts_belong_to_the_owner_their_purpose_names() -> None:
    with pytest.raises(ValueError, match="belong to a seller"):
        AccountKey("c1", OwnerKind.PLATFORM, "platform", Purpose.SELLER_PENDING, "EUR")
    assert platform_account("c1", Purpose.COMMISSION, "EUR").hot
    assert not PENDING.hot
    assert PENDING.non_negative


@given(
    amount=st.integers(min_value=1, max_value=10**12),
    commission_share=st.integers(min_value=0, max_value=100),
    fee_share=st.integers(min_value=0, max_value=100),
)
def test_default_rules_balance_and_release_the_sellers_share(
    amount: int, commission_share: int, fee_share: int
) -> None:
    commission = amount * commission_share // 200
    fee = amount * fee_share // 200
    order = OrderFacts("c1", "pay1", "po1", "s1", "sandbox", eur(amount), eur(commission), eur(fee))
    paid = default_entry(PaymentSucceeded(order))
    shipped = default_entry(ShipmentConfirmed(order))
    assert paid.reference == "payment_succeeded:po1"
    assert shipped.reference == "shipment_confirmed:po1"
    released = {p.account.purpose: p.amount.minor for p in shipped.postings}
    assert released[Purpose.SELLER_PENDING] == amount
    assert released.get(Purpose.SELLER_AVAILABLE, 0) == -(amount - commission - fee)
    assert released.get(Purpose.COMMISSION, 0) == -commission
    assert released.get(Purpose.LOGISTICS_FEES, 0) == -fee


def test_refund_after_release_records_a_shortfall_as_a_receivable() -> None:
    order = OrderFacts("c1", "pay1", "po1", "s1", "sandbox", eur(3000), eur(300), eur(450))
    entry = default_entry(
        RefundSucceeded(order, "re1", eur(3000), released=True, seller_available=eur(1000))
    )
    by_purpose = {p.account.purpose: p.amount.minor for p in entry.postings}
    assert entry.kind == "refund_after_release"
    assert by_purpose == {
        Purpose.SELLER_AVAILABLE: 1000,
        Purpose.SELLER_RECEIVABLE: 1250,  # 2250 seller share, 1000 available
        Purpose.COMMISSION: 300,
        Purpose.LOGISTICS_FEES: 450,
        Purpose.PSP_CLEARING: -3000,
    }


def test_refund_before_release_takes_from_pending() -> None:
    order = OrderFacts("c1", "pay1", "po1", "s1", "sandbox", eur(3000), eur(300), eur(450))
    entry = default_entry(
        RefundSucceeded(order, "re1", eur(1000), released=False, seller_available=eur(0))
    )
    assert {p.account.purpose: p.amount.minor for p in entry.postings} == {
        Purpose.SELLER_PENDING: 1000,
        Purpose.PSP_CLEARING: -1000,
    }


@given(
    amount=st.integers(min_value=1, max_value=10**9),
    refunded=st.integers(min_value=0, max_value=10**9),
)
def test_shares_always_sum_to_what_is_released(amount: int, refunded: int) -> None:
    order = OrderFacts(
        "c1", "p", "o", "s", "sandbox", eur(amount), eur(amount // 10), eur(amount // 7)
    )
    net = eur(max(amount - refunded, 1))
    seller, commission, fee = release_shares(order, net)
    assert seller + commission + fee == net
    assert min(seller.minor, commission.minor, fee.minor) >= 0
