"""AcmePay's amounts for every currency the example plugin claims: decimal strings with
the currency's ISO 4217 decimals (``"12.345"`` KWD, ``"1500"`` JPY), read back exactly."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paymux.currencies import Money, get_active_currency
from paymux.currencies.parsing import MAX_MINOR_UNITS
from paymux_acmepay.provider import AcmePayProvider, _amount

PROVIDER = AcmePayProvider(api_key="k", webhook_secret="s", webhook_url="https://x/wh")
CLAIMED = sorted(PROVIDER.capabilities().currencies or ())
AMOUNTS = (0, 1, 7, 100, 123457, 98765432, MAX_MINOR_UNITS - 1, MAX_MINOR_UNITS)
"""Up to the largest amount paymux parses."""


def check(money: Money) -> None:
    wire = _amount(money)
    assert wire["currency"] == money.currency
    exponent = get_active_currency(money.currency).exponent
    assert len(wire["amount"].partition(".")[2]) == exponent
    assert Money.parse(wire["amount"], wire["currency"]) == money


def test_the_example_claims_four_currencies_of_three_exponents() -> None:
    assert CLAIMED == ["EUR", "GBP", "JPY", "KWD"]
    assert _amount(Money(12345, "KWD")) == {"amount": "12.345", "currency": "KWD"}
    assert _amount(Money(1500, "JPY")) == {"amount": "1500", "currency": "JPY"}


@pytest.mark.parametrize("currency", CLAIMED)
def test_every_claimed_currency_round_trips(currency: str) -> None:
    for minor in AMOUNTS:
        check(Money(minor, currency))


@settings(max_examples=100, deadline=None)
@given(currency=st.sampled_from(CLAIMED), minor=st.integers(min_value=0, max_value=MAX_MINOR_UNITS))
def test_any_amount_round_trips(currency: str, minor: int) -> None:
    check(Money(minor, currency))
