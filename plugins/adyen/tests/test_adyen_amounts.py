"""Amounts in Adyen's minor units, for every currency the plugin claims."""

from __future__ import annotations

import pytest

from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import CheckoutRequest, ProviderRejectedError
from paymux.currencies import Money, get_currency
from paymux_adyen.amounts import ADYEN_DECIMALS, SUPPORTED_CURRENCIES, from_adyen, to_adyen_value
from paymux_adyen.fake_psp import adyen_decimals, decode_amount
from paymux_adyen.harness import AdyenHarness

EXCEPTIONS = {"CLP": 2, "ISK": 2, "CVE": 0, "IDR": 0}


def test_the_documented_exceptions_differ_from_iso() -> None:
    for code, decimals in EXCEPTIONS.items():
        assert ADYEN_DECIMALS[code] == decimals
        assert get_currency(code).exponent != decimals


def test_every_other_currency_follows_iso() -> None:
    for code, decimals in ADYEN_DECIMALS.items():
        if code not in EXCEPTIONS:
            assert decimals == get_currency(code).exponent, code


@pytest.mark.parametrize(
    ("money", "value"),
    [
        (Money(1234, "EUR"), 1234),
        (Money(1234, "JPY"), 1234),
        (Money(1234, "BHD"), 1234),
        (Money(1500, "CLP"), 150000),
        (Money(990, "ISK"), 99000),
        (Money(1500000, "IDR"), 15000),
        (Money(120000, "CVE"), 1200),
    ],
)
def test_examples(money: Money, value: int) -> None:
    assert to_adyen_value(money) == value
    assert from_adyen(value, money.currency) == money


@pytest.mark.parametrize("currency", ["IDR", "CVE"])
def test_a_fraction_adyen_cannot_take_is_refused(currency: str) -> None:
    with pytest.raises(ProviderRejectedError) as caught:
        to_adyen_value(Money(150001, currency))
    assert caught.value.code == "amount-not-encodable"
    with pytest.raises(ValueError, match="whole"):
        decode_amount({"currency": "CLP", "value": 150001})


def test_an_unclaimed_currency_is_refused() -> None:
    with pytest.raises(ProviderRejectedError) as caught:
        to_adyen_value(Money(100, "UYU"))
    assert caught.value.code == "currency-not-supported"


@pytest.mark.parametrize("currency", sorted(SUPPORTED_CURRENCIES))
async def test_every_claimed_currency_is_charged_exactly(
    harness: AdyenHarness, currency: str
) -> None:
    exponent = get_currency(currency).exponent
    amount = Money(123 * 10**exponent, currency)  # 123 major units
    request = CheckoutRequest("pay_1", amount, "NL", "card", "buyer-1", ("o",), "https://r")
    registration = await harness.provider.register_checkout(request, idempotency_key="k")
    sent = harness.fake.requests[-1].json()["amount"]
    assert sent == {"currency": currency, "value": 123 * 10 ** adyen_decimals(currency)}
    assert harness.charged_amount(registration) == amount
    await harness.complete_checkout(registration, PaymentStatus.SUCCEEDED)
