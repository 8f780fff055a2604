"""Stripe's amount encoding for every currency the plugin claims: round trip and the unit
rules of Stripe's currency docs (zero-decimal list, three-decimal amounts ending in 0, ISK
in hundredths, HUF and TWD in hundredths for charges), pinned to the docs' own lists."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paymux.core.ports.provider import ProviderRejectedError
from paymux.currencies import Money, get_active_currency
from paymux_stripe.amounts import decode_amount, encode_amount, supported_currencies

CLAIMED = sorted(supported_currencies())

# docs.stripe.com/currencies: the zero-decimal list (UGX is on it but left unclaimed, see
# paymux_stripe.amounts), the three-decimal list, and the special cases.
DOCS_ZERO_DECIMAL = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
DOCS_THREE_DECIMAL = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])
DOCS_TWO_DECIMAL_SPECIAL = frozenset({"ISK", "HUF", "TWD"})

AMOUNTS = (0, 1, 7, 10, 99, 100, 123457, 98765430, 10**15 + 1)
"""0, one minor unit, typical and large amounts (10**15 + 1 is beyond a float's 2**53)."""


def stripe_decimals(currency: str) -> int:
    """The decimals of Stripe's amount unit for ``currency``, by the docs."""
    if currency in DOCS_ZERO_DECIMAL:
        return 0
    if currency in DOCS_THREE_DECIMAL:
        return 3
    return 2


def expected_wire(money: Money) -> int | None:
    """What Stripe must receive for ``money``; ``None`` when Stripe cannot take it exactly."""
    shift = stripe_decimals(money.currency) - money.exponent
    factor: int = 10 ** abs(shift)
    if shift >= 0:
        wire = money.minor * factor
    else:
        wire, rest = divmod(money.minor, factor)
        if rest:
            return None
    if money.currency in DOCS_THREE_DECIMAL and wire % 10:
        return None  # Stripe: the last digit of a three-decimal amount must be 0
    return wire


def check(money: Money) -> None:
    wire = expected_wire(money)
    if wire is None:
        with pytest.raises(ProviderRejectedError) as refused:
            encode_amount(money)
        assert refused.value.code == "amount-not-encodable"
        assert not refused.value.retryable
        return
    encoded = encode_amount(money)
    assert (encoded.amount, encoded.currency) == (wire, money.currency.lower())
    assert isinstance(encoded.amount, int)
    assert decode_amount(encoded.amount, encoded.currency) == money


def test_every_claim_is_an_active_iso_currency_stripe_documents() -> None:
    assert "UGX" not in CLAIMED
    for code in CLAIMED:
        get_active_currency(code)
    assert {"EUR", "USD", "JPY", "CLP", "KWD", "BHD", "ISK", "HUF", "TWD", "MGA"} <= set(CLAIMED)
    for code in DOCS_TWO_DECIMAL_SPECIAL:  # Stripe's special cases keep two decimals
        assert stripe_decimals(code) == 2


@pytest.mark.parametrize("currency", CLAIMED)
def test_every_claimed_currency_round_trips_by_stripes_rules(currency: str) -> None:
    exponent = get_active_currency(currency).exponent
    for minor in AMOUNTS:
        check(Money(minor, currency))
        check(Money(minor * 10**exponent, currency))  # whole units: always encodable
        assert expected_wire(Money(minor * 10**exponent * 10, currency)) is not None


@settings(max_examples=300, deadline=None)
@given(currency=st.sampled_from(CLAIMED), minor=st.integers(min_value=0, max_value=10**18))
def test_any_amount_round_trips_or_is_refused(currency: str, minor: int) -> None:
    check(Money(minor, currency))


@pytest.mark.parametrize(
    ("money", "wire"),
    [
        (Money(0, "KWD"), 0),
        (Money(12340, "KWD"), 12340),  # 12.340 KWD
        (Money(15000, "CLP"), 15000),  # zero-decimal: whole pesos
        (Money(1, "JPY"), 1),
        (Money(5, "ISK"), 500),  # ISK: whole krona sent in hundredths
        (Money(12345, "HUF"), 12345),  # HUF and TWD charges take two decimals
        (Money(12345, "TWD"), 12345),
        (Money(700, "MGA"), 7),  # MGA: two decimals in ISO, whole ariary at Stripe
    ],
)
def test_the_documented_special_cases(money: Money, wire: int) -> None:
    assert encode_amount(money).amount == wire
    assert decode_amount(wire, money.currency.lower()) == money


@pytest.mark.parametrize(
    "money", [Money(12345, "KWD"), Money(1, "BHD"), Money(1, "MGA"), Money(701, "MGA")]
)
def test_an_amount_stripe_cannot_take_is_refused_not_rounded(money: Money) -> None:
    with pytest.raises(ProviderRejectedError) as refused:
        encode_amount(money)
    assert refused.value.code == "amount-not-encodable"


def test_isk_from_stripe_must_be_whole_krona() -> None:
    assert decode_amount(1200, "isk") == Money(12, "ISK")
    with pytest.raises(ValueError, match="fraction"):
        decode_amount(1250, "isk")
