"""The posting rules of a payout in another currency: both legs through the platform's FX
position, balanced per currency; a failure reverses exactly; unconverted payouts as before."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paymux.core.fx.quotes import Quote, convert
from paymux.core.ledger.accounts import (
    AccountKey,
    Purpose,
    clearing_account,
    platform_account,
    seller_account,
)
from paymux.core.ledger.journal import JournalEntry
from paymux.core.ledger.rules import (
    PayoutFacts,
    PayoutFailed,
    PayoutInitiated,
    PayoutPaid,
    ReceivableRecovered,
    default_entry,
)
from paymux.currencies import Money

AVAILABLE_JPY = seller_account("c1", "s1", Purpose.SELLER_AVAILABLE, "JPY")
RECEIVABLE_JPY = seller_account("c1", "s1", Purpose.SELLER_RECEIVABLE, "JPY")
IN_TRANSIT_EUR = seller_account("c1", "s1", Purpose.SELLER_PAYOUT_IN_TRANSIT, "EUR")
IN_TRANSIT_JPY = seller_account("c1", "s1", Purpose.SELLER_PAYOUT_IN_TRANSIT, "JPY")
FX_JPY = platform_account("c1", Purpose.FX_CONVERSION, "JPY")
FX_EUR = platform_account("c1", Purpose.FX_CONVERSION, "EUR")
CLEARING_EUR = clearing_account("c1", "sandbox", "EUR")
CLEARING_JPY = clearing_account("c1", "sandbox", "JPY")

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
QUOTE = Quote("JPY", "EUR", Decimal("0.0061"), "fixed", date(2026, 11, 24), NOW,
              NOW + timedelta(minutes=15))  # fmt: skip


def converted(jpy: int) -> PayoutFacts:
    amount = Money(jpy, "JPY")
    return PayoutFacts("c1", "s1", "sandbox", "po_1", amount, convert(amount, QUOTE))


def lines(entry: JournalEntry) -> list[tuple[AccountKey, int]]:
    return [(posting.account, posting.amount.minor) for posting in entry.postings]


def per_currency(entry: JournalEntry) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for posting in entry.postings:
        totals[posting.amount.currency] += posting.amount.minor
    return dict(totals)


def test_a_converted_payout_moves_both_legs_through_the_fx_position() -> None:
    facts = converted(8500)  # 8500 JPY x 0.0061 = 51.85 EUR
    entry = default_entry(PayoutInitiated(facts))
    assert (entry.kind, entry.reference) == ("payout_initiated", "payout_initiated:po_1")
    assert lines(entry) == [
        (AVAILABLE_JPY, 8500),  # debit: the seller's JPY liability shrinks
        (FX_JPY, -8500),  # credit: the platform keeps the JPY
        (FX_EUR, 5185),  # debit: the platform gives EUR away
        (IN_TRANSIT_EUR, -5185),  # credit: owed to the seller in EUR, on its way
    ]
    assert per_currency(entry) == {"JPY": 0, "EUR": 0}


def test_the_converted_amount_is_rounded_once_half_to_even() -> None:
    facts = converted(1250)  # 7.625 EUR exactly: a tie, to the even 7.62
    assert facts.payout_amount == Money(762, "EUR")
    assert lines(default_entry(PayoutInitiated(facts)))[2:] == [
        (FX_EUR, 762),
        (IN_TRANSIT_EUR, -762),
    ]


def test_a_paid_converted_payout_leaves_clearing_in_the_payout_currency() -> None:
    entry = default_entry(PayoutPaid(converted(8500)))
    assert entry.kind == "payout_paid"
    assert lines(entry) == [(IN_TRANSIT_EUR, 5185), (CLEARING_EUR, -5185)]


def test_a_failed_converted_payout_is_the_exact_reverse_at_the_same_quote() -> None:
    facts = converted(8500)
    initiated = default_entry(PayoutInitiated(facts))
    reversed_ = default_entry(PayoutFailed(facts))
    assert (reversed_.kind, reversed_.reference) == ("payout_reversed", "payout_reversed:po_1")
    assert lines(reversed_) == [
        (IN_TRANSIT_EUR, 5185),
        (FX_EUR, -5185),
        (FX_JPY, 8500),
        (AVAILABLE_JPY, -8500),  # the seller gets the 8500 JPY back
    ]
    net: Counter[AccountKey] = Counter()
    for account, minor in lines(initiated) + lines(reversed_):
        net[account] += minor
    assert set(net.values()) == {0}


@given(
    jpy=st.integers(min_value=1, max_value=10**9),
    rate=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("1000"), places=6),
)
def test_every_converted_payout_entry_balances_per_currency(jpy: int, rate: Decimal) -> None:
    quote = Quote("JPY", "EUR", rate, "fixed", date(2026, 11, 24), NOW, NOW + timedelta(1))
    amount = Money(jpy, "JPY")
    sent = convert(amount, quote)
    if not sent.is_positive:
        return  # the service refuses a payout that converts to nothing
    facts = PayoutFacts("c1", "s1", "sandbox", "po_1", amount, sent)
    for event in (PayoutInitiated(facts), PayoutPaid(facts), PayoutFailed(facts)):
        entry = default_entry(event)  # JournalEntry itself refuses an unbalanced entry
        assert set(per_currency(entry).values()) == {0}
    initiated = default_entry(PayoutInitiated(facts))
    assert lines(initiated)[0] == (AVAILABLE_JPY, jpy)
    assert lines(initiated)[-1] == (IN_TRANSIT_EUR, -sent.minor)


def test_receivable_recovery_stays_in_the_source_currency() -> None:
    entry = default_entry(ReceivableRecovered(converted(8500), Money(300, "JPY")))
    assert lines(entry) == [(AVAILABLE_JPY, 300), (RECEIVABLE_JPY, -300)]


def test_an_unconverted_payout_posts_as_before() -> None:
    facts = PayoutFacts("c1", "s1", "sandbox", "po_1", Money(8500, "JPY"))
    assert facts.sent == Money(8500, "JPY")
    assert lines(default_entry(PayoutInitiated(facts))) == [
        (AVAILABLE_JPY, 8500),
        (IN_TRANSIT_JPY, -8500),
    ]
    assert lines(default_entry(PayoutPaid(facts))) == [
        (IN_TRANSIT_JPY, 8500),
        (CLEARING_JPY, -8500),
    ]
    assert lines(default_entry(PayoutFailed(facts))) == [
        (IN_TRANSIT_JPY, 8500),
        (AVAILABLE_JPY, -8500),
    ]


def test_a_payout_amount_in_the_source_currency_is_refused() -> None:
    with pytest.raises(ValueError, match="another currency"):
        PayoutFacts("c1", "s1", "sandbox", "po_1", Money(8500, "JPY"), Money(8500, "JPY"))
