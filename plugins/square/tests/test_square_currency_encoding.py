"""Square's amount encoding for every currency the plugin claims: ``Money.amount`` in the
currency's smallest denomination (Square's docs: cents for USD, yen for JPY), round trip."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paymux.currencies import Money, get_active_currency
from paymux_square.amounts import SQUARE_COUNTRIES, SQUARE_EXPONENTS, from_square, to_square

CLAIMED = sorted(SQUARE_EXPONENTS)

# Square takes payments in its sellers' home currencies: US, Canada, the UK, Australia,
# Japan, and the euro in Ireland, France and Spain.
DOCS_CURRENCIES = {"USD": 2, "CAD": 2, "GBP": 2, "AUD": 2, "JPY": 0, "EUR": 2}
DOCS_COUNTRIES = {"US", "CA", "GB", "AU", "JP", "IE", "FR", "ES"}

AMOUNTS = (0, 1, 7, 100, 123457, 98765432, 10**15 + 1)


def check(money: Money) -> None:
    wire = to_square(money)
    assert wire == {"amount": money.minor, "currency": money.currency}  # ISO minor units
    assert isinstance(wire["amount"], int)
    assert from_square(wire["amount"], wire["currency"]) == money


def test_the_claims_are_squares_handful_of_currencies() -> None:
    assert SQUARE_EXPONENTS == DOCS_CURRENCIES
    assert SQUARE_COUNTRIES == DOCS_COUNTRIES
    for code, exponent in DOCS_CURRENCIES.items():
        assert get_active_currency(code).exponent == exponent


@pytest.mark.parametrize("currency", CLAIMED)
def test_every_claimed_currency_round_trips(currency: str) -> None:
    for minor in AMOUNTS:
        check(Money(minor, currency))


@settings(max_examples=200, deadline=None)
@given(currency=st.sampled_from(CLAIMED), minor=st.integers(min_value=0, max_value=10**18))
def test_any_amount_round_trips(currency: str, minor: int) -> None:
    check(Money(minor, currency))


@pytest.mark.parametrize("currency", ["KWD", "CLP", "CHF"])
def test_currencies_square_does_not_process_are_not_claimed(currency: str) -> None:
    assert currency not in CLAIMED
