"""Adyen's amount encoding for every currency the plugin claims: round trip, and the
minor units of Adyen's currency table (docs.adyen.com, "Currency codes and minor units")."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paymux.core.ports.provider import ProviderRejectedError
from paymux.currencies import Money, get_active_currency
from paymux_adyen.amounts import SUPPORTED_CURRENCIES, from_adyen, to_adyen_amount
from paymux_adyen.fake_psp import decode_amount

CLAIMED = sorted(SUPPORTED_CURRENCIES)

# Adyen's table for the claimed currencies: ISO 4217's decimals except where Adyen says
# "differs from standard".
DOCS_DIFFERENT_FROM_ISO = {"CLP": 2, "ISK": 2, "CVE": 0, "IDR": 0}
DOCS_THREE_DECIMAL = frozenset({"BHD", "KWD"})
DOCS_ZERO_DECIMAL = frozenset({"JPY", "KRW", "CVE", "IDR"})

AMOUNTS = (0, 1, 7, 100, 123457, 98765432, 10**15 + 1)


def adyen_decimals(currency: str) -> int:
    if currency in DOCS_DIFFERENT_FROM_ISO:
        return DOCS_DIFFERENT_FROM_ISO[currency]
    if currency in DOCS_THREE_DECIMAL:
        return 3
    if currency in DOCS_ZERO_DECIMAL:
        return 0
    return 2


def check(money: Money) -> None:
    shift = adyen_decimals(money.currency) - money.exponent
    if shift < 0 and money.minor % 10**-shift:
        with pytest.raises(ProviderRejectedError) as refused:
            to_adyen_amount(money)
        assert refused.value.code == "amount-not-encodable"
        return
    wire = money.minor * 10**shift if shift >= 0 else money.minor // 10**-shift
    encoded = to_adyen_amount(money)
    assert encoded == {"currency": money.currency, "value": wire}
    assert from_adyen(encoded["value"], encoded["currency"]) == money
    assert decode_amount(encoded) == money  # the fake PSP's own reading of Adyen's rules


def test_every_claim_is_an_active_iso_currency() -> None:
    for code in CLAIMED:
        get_active_currency(code)
    assert {"EUR", "KWD", "BHD", "JPY", "CLP", "ISK"} <= set(CLAIMED)


@pytest.mark.parametrize("currency", CLAIMED)
def test_every_claimed_currency_round_trips_in_adyens_minor_units(currency: str) -> None:
    exponent = get_active_currency(currency).exponent
    for minor in AMOUNTS:
        check(Money(minor, currency))
        check(Money(minor * 10**exponent, currency))


@settings(max_examples=300, deadline=None)
@given(currency=st.sampled_from(CLAIMED), minor=st.integers(min_value=0, max_value=10**18))
def test_any_amount_round_trips_or_is_refused(currency: str, minor: int) -> None:
    check(Money(minor, currency))


def test_kwd_keeps_three_decimals_and_clp_goes_in_hundredths() -> None:
    assert to_adyen_amount(Money(12345, "KWD")) == {"currency": "KWD", "value": 12345}
    assert to_adyen_amount(Money(15000, "CLP")) == {"currency": "CLP", "value": 1500000}
    with pytest.raises(ValueError, match="whole"):
        from_adyen(1500050, "CLP")  # half a peso has no ISO minor unit
