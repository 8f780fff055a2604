"""Stripe's amount encoding, for every currency the plugin claims."""

from __future__ import annotations

import pytest

from paymux.core.ports.provider import ProviderRejectedError
from paymux.currencies import Money, get_currency
from paymux_stripe.amounts import (
    THREE_DECIMAL,
    ZERO_DECIMAL,
    decode_amount,
    encode_amount,
    stripe_exponent,
    supported_currencies,
)

CLAIMED = sorted(supported_currencies())


def test_the_claimed_set_is_large_and_leaves_ugx_out() -> None:
    assert len(CLAIMED) > 120
    assert {"EUR", "USD", "JPY", "KWD", "ISK", "HUF", "TWD", "MGA"} <= set(CLAIMED)
    assert "UGX" not in CLAIMED


@pytest.mark.parametrize("currency", CLAIMED)
def test_every_claimed_currency_round_trips(currency: str) -> None:
    iso = get_currency(currency).exponent
    stripe_unit = stripe_exponent(currency)
    # An amount every rule accepts: whole major units (x10 for Stripe's 3-decimal rule).
    money = Money(12 * 10**iso, currency)
    encoded = encode_amount(money)
    assert encoded.currency == currency.lower()
    assert encoded.amount == 12 * 10**stripe_unit
    assert decode_amount(encoded.amount, encoded.currency) == money


@pytest.mark.parametrize(
    ("money", "wire"),
    [
        (Money(1500, "JPY"), 1500),
        (Money(1230, "EUR"), 1230),
        (Money(1230, "KWD"), 1230),
        (Money(5, "ISK"), 500),
        (Money(1234, "HUF"), 1234),
        (Money(1234, "TWD"), 1234),
        (Money(500, "MGA"), 5),
        (Money(700, "CLP"), 700),
    ],
)
def test_known_encodings(money: Money, wire: int) -> None:
    assert encode_amount(money).amount == wire
    assert decode_amount(wire, money.currency.lower()) == money


@pytest.mark.parametrize("currency", sorted(THREE_DECIMAL))
def test_three_decimal_amounts_must_end_in_zero(currency: str) -> None:
    with pytest.raises(ProviderRejectedError) as caught:
        encode_amount(Money(1234, currency))
    assert caught.value.code == "amount-not-encodable"


def test_mga_cents_cannot_be_charged() -> None:
    with pytest.raises(ProviderRejectedError) as caught:
        encode_amount(Money(550, "MGA"))
    assert caught.value.code == "amount-not-encodable"


@pytest.mark.parametrize("currency", ["UGX", "IQD", "CLF"])
def test_unclaimed_currencies_are_refused(currency: str) -> None:
    with pytest.raises(ProviderRejectedError) as caught:
        encode_amount(Money(100, currency))
    assert caught.value.code == "currency-not-supported"


def test_isk_fractions_from_stripe_do_not_decode() -> None:
    with pytest.raises(ValueError, match="fraction"):
        decode_amount(550, "isk")


def test_zero_decimal_list_matches_stripe() -> None:
    stripes_list = {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX"}
    stripes_list |= {"VND", "VUV", "XAF", "XOF", "XPF"}
    assert ZERO_DECIMAL | {"UGX"} == stripes_list
