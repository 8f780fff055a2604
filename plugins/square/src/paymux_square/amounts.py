"""Money at Square's edge: amounts in the currency's smallest denomination.

Square's ``Money.amount`` is an integer in the smallest denomination of the currency (cents
for USD, yen for JPY). For the currencies Square processes this is ISO 4217's minor unit, but
the table below states Square's own exponent so a divergence would be converted, not ignored.
"""

from __future__ import annotations

from typing import TypedDict

from paymux.core.ports.provider import ProviderRejectedError
from paymux.currencies import Money, get_currency

SQUARE_EXPONENTS: dict[str, int] = {
    "USD": 2,
    "CAD": 2,
    "GBP": 2,
    "AUD": 2,
    "EUR": 2,
    "JPY": 0,
}
"""The currencies Square processes payments in, with the decimals of Square's amounts."""

SQUARE_COUNTRIES: frozenset[str] = frozenset({"US", "CA", "GB", "AU", "JP", "IE", "FR", "ES"})
"""The countries where Square sellers take card payments."""


class SquareMoney(TypedDict):
    """Square's ``Money`` object on the wire."""

    amount: int
    currency: str


def to_square(money: Money) -> SquareMoney:
    """Encode ``money`` (ISO minor units) as Square's ``Money``.

    Raises :class:`ProviderRejectedError` (``currency-not-supported``) for a currency Square
    does not process, and (``amount-not-representable``) for an amount with more precision
    than Square's unit allows.
    """
    square_exponent = SQUARE_EXPONENTS.get(money.currency)
    if square_exponent is None:
        raise ProviderRejectedError(
            f"Square does not process {money.currency}", code="currency-not-supported"
        )
    shift = square_exponent - get_currency(money.currency).exponent
    if shift >= 0:
        return {"amount": money.minor * 10**shift, "currency": money.currency}
    factor = 10**-shift
    if money.minor % factor:
        raise ProviderRejectedError(
            f"{money} cannot be expressed in Square's unit of {money.currency}",
            code="amount-not-representable",
        )
    return {"amount": money.minor // factor, "currency": money.currency}


def from_square(amount: int, currency: str) -> Money:
    """Decode Square's ``Money`` (``amount`` in Square's unit) to paymux's :class:`Money`."""
    square_exponent = SQUARE_EXPONENTS.get(currency)
    if square_exponent is None:
        raise ValueError(f"Square does not process {currency}")
    shift = get_currency(currency).exponent - square_exponent
    if shift >= 0:
        return Money(amount * 10**shift, currency)
    factor = 10**-shift
    if amount % factor:
        raise ValueError(f"{amount} {currency} has more precision than ISO 4217 allows")
    return Money(amount // factor, currency)
