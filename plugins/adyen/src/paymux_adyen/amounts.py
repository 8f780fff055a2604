"""Amounts on Adyen's wire: minor units by Adyen's own currency table.

Adyen counts most currencies in ISO 4217 minor units, but documents four exceptions
(docs.adyen.com, "Currency codes and minor units"): CLP and ISK take **two** decimals at
Adyen (ISO: none), CVE and IDR take **none** (ISO: two). paymux's ``Money.minor`` follows
ISO 4217, so the conversion happens here, at the plugin's edge, and nowhere else.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from paymux.core.ports.provider import ProviderRejectedError
from paymux.currencies import Money, get_currency

ADYEN_DECIMALS: MappingProxyType[str, int] = MappingProxyType(
    {
        # Currencies whose Adyen decimals equal ISO 4217's.
        "AED": 2, "AUD": 2, "BHD": 3, "BRL": 2, "CAD": 2, "CHF": 2, "CNY": 2,
        "CZK": 2, "DKK": 2, "EUR": 2, "GBP": 2, "HKD": 2, "HUF": 2, "ILS": 2, "INR": 2,
        "JPY": 0, "KRW": 0, "KWD": 3, "MXN": 2, "MYR": 2, "NOK": 2, "NZD": 2, "PHP": 2,
        "PLN": 2, "RON": 2, "SAR": 2, "SEK": 2, "SGD": 2, "THB": 2, "TRY": 2, "USD": 2,
        "ZAR": 2,
        # Adyen's documented exceptions to ISO 4217.
        "CLP": 2, "ISK": 2, "CVE": 0, "IDR": 0,
    }
)  # fmt: skip
"""The currencies this plugin encodes, with the number of decimals Adyen expects."""

SUPPORTED_CURRENCIES: frozenset[str] = frozenset(ADYEN_DECIMALS)


def _pow10(exponent: int) -> int:
    result = 1
    for _ in range(exponent):
        result *= 10
    return result


def _shift(currency: str) -> int:
    """Adyen's decimals minus ISO's: how many powers of ten separate the two encodings."""
    try:
        adyen = ADYEN_DECIMALS[currency]
    except KeyError:
        raise ProviderRejectedError(
            f"the Adyen plugin does not encode {currency} amounts", code="currency-not-supported"
        ) from None
    return adyen - get_currency(currency).exponent


def to_adyen_value(money: Money) -> int:
    """``money`` in Adyen's minor units; refuses an amount Adyen cannot express exactly."""
    shift = _shift(money.currency)
    if shift >= 0:
        return money.minor * _pow10(shift)
    factor = _pow10(-shift)
    if money.minor % factor:
        raise ProviderRejectedError(
            f"{money.currency} amounts go to Adyen in whole units; {money!r} has a fraction",
            code="amount-not-encodable",
        )
    return money.minor // factor


def to_adyen_amount(money: Money) -> dict[str, Any]:
    """The ``Amount`` object of Adyen's APIs for ``money``."""
    return {"currency": money.currency, "value": to_adyen_value(money)}


def from_adyen(value: int, currency: str) -> Money:
    """Adyen's ``{"value", "currency"}`` as paymux ``Money`` (ValueError when inexact)."""
    shift = _shift(currency)
    if shift <= 0:
        return Money(value * _pow10(-shift), currency)
    factor = _pow10(shift)
    if value % factor:
        raise ValueError(f"{value} {currency} at Adyen is not a whole ISO minor unit")
    return Money(value // factor, currency)
