"""Amounts at Square's edge: the currency's smallest unit, JPY without decimals."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from paymux.core.ports.provider import CheckoutRequest, ProviderRejectedError
from paymux.currencies import Money, get_currency
from paymux_square.amounts import SQUARE_EXPONENTS, from_square, to_square
from paymux_square.harness import SquareHarness


@pytest.fixture
async def harness() -> AsyncIterator[SquareHarness]:
    async with SquareHarness() as harness:
        yield harness
        assert harness.invalid_requests() == []


def checkout(amount: Money, country: str = "US") -> CheckoutRequest:
    return CheckoutRequest(
        payment_id="pay_0123456789abcdef01234567",
        amount=amount,
        country=country,
        payment_method="card",
        buyer_id="buyer-1",
        order_references=("order-1",),
        return_url="https://paymux.test/checkout/pay_0123456789abcdef01234567",
    )


@pytest.mark.parametrize(
    ("money", "wire"),
    [
        (Money(1234, "USD"), {"amount": 1234, "currency": "USD"}),
        (Money(1500, "JPY"), {"amount": 1500, "currency": "JPY"}),
        (Money(1, "EUR"), {"amount": 1, "currency": "EUR"}),
        (Money(99_999_999, "GBP"), {"amount": 99_999_999, "currency": "GBP"}),
        (Money(500, "CAD"), {"amount": 500, "currency": "CAD"}),
        (Money(0, "AUD"), {"amount": 0, "currency": "AUD"}),
    ],
)
def test_amounts_are_in_the_smallest_unit(money: Money, wire: dict[str, object]) -> None:
    assert to_square(money) == wire
    assert from_square(int(str(wire["amount"])), str(wire["currency"])) == money


def test_square_units_agree_with_iso_for_every_supported_currency() -> None:
    for code, exponent in SQUARE_EXPONENTS.items():
        assert get_currency(code).exponent == exponent
    assert SQUARE_EXPONENTS["JPY"] == 0


def test_a_currency_square_does_not_process_is_refused() -> None:
    with pytest.raises(ProviderRejectedError) as caught:
        to_square(Money(100, "CHF"))
    assert caught.value.code == "currency-not-supported"
    with pytest.raises(ValueError, match="CHF"):
        from_square(100, "CHF")


async def test_jpy_goes_to_square_as_whole_yen(harness: SquareHarness) -> None:
    registration = await harness.provider.register_checkout(
        checkout(Money(1500, "JPY"), "JP"), idempotency_key="pmx-jpy"
    )
    body = harness.fake.requests[-1].json()
    assert body["order"]["line_items"][0]["base_price_money"] == {"amount": 1500, "currency": "JPY"}
    assert harness.charged_amount(registration) == Money(1500, "JPY")


async def test_usd_goes_to_square_in_cents(harness: SquareHarness) -> None:
    registration = await harness.provider.register_checkout(
        checkout(Money(1999, "USD")), idempotency_key="pmx-usd"
    )
    body = harness.fake.requests[-1].json()
    assert body["order"]["line_items"][0]["base_price_money"] == {"amount": 1999, "currency": "USD"}
    assert harness.charged_amount(registration) == Money(1999, "USD")


async def test_a_checkout_in_an_unsupported_currency_sends_nothing(harness: SquareHarness) -> None:
    with pytest.raises(ProviderRejectedError) as caught:
        await harness.provider.register_checkout(
            checkout(Money(100, "SEK"), "SE"), idempotency_key="pmx-sek"
        )
    assert caught.value.code == "currency-not-supported"
    assert harness.fake.requests == []
