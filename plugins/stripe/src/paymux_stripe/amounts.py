"""Amounts in Stripe's wire format, converted at the plugin's edge.

paymux holds money as ISO 4217 minor units (:class:`~paymux.currencies.Money`). Stripe's API
takes an integer in *Stripe's* smallest unit, which is not always ISO's:

* **zero-decimal** currencies (BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF VND VUV XAF XOF XPF):
  whole units. ISO agrees except for MGA (ISO: 2 decimals), whose paymux amounts must then
  be whole ariary.
* **three-decimal** currencies (BHD JOD KWD OMR TND): thousandths, as in ISO, but the last
  digit sent must be 0 (Stripe's payment partners settle in hundredths).
* **ISK**: ISO has no decimals, yet Stripe keeps the two-decimal representation for backwards
  compatibility: 5 ISK is sent as ``500``.
* **HUF, TWD**: Stripe charges, refunds and transfers take two decimals (as ISO); only bank
  payouts in these currencies are whole units, and paymux makes none (Connect pays the
  connected account, whose payouts Stripe rounds itself).
* every other supported currency: two decimals.

**UGX** is refused: ISO gives it no decimals and Stripe lists it as zero-decimal, while
Stripe's special-case notes (and integrators who charged live) describe a two-decimal
representation kept for backwards compatibility. Sending the wrong one charges 100 times
too much or too little, so the plugin does not claim UGX until it is confirmed against a
Stripe account.
"""

from __future__ import annotations

from dataclasses import dataclass

from paymux.core.ports.provider import ProviderRejectedError
from paymux.currencies import Money, get_currency, is_active_currency
from paymux.currencies.errors import UnknownCurrencyError


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


ZERO_DECIMAL = _codes("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF VND VUV XAF XOF XPF")
"""Currencies Stripe amounts in whole units (UGX, also on Stripe's list, is not supported)."""

THREE_DECIMAL = _codes("BHD JOD KWD OMR TND")
"""Currencies Stripe amounts in thousandths, whose last digit must be 0."""

TWO_DECIMAL_OVERRIDES = frozenset({"ISK"})
"""Currencies with no ISO decimals that Stripe still amounts in hundredths."""

UNSUPPORTED = frozenset({"UGX"})
"""Currencies whose Stripe encoding is ambiguous: refused (see the module docstring)."""

_STRIPE_PRESENTMENT = _codes(
    """
    AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND BOB BRL BSD BWP BYN
    BZD CAD CDF CHF CLP CNY COP CRC CVE CZK DJF DKK DOP DZD EGP ETB EUR FJD FKP GBP GEL GIP
    GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR ISK JMD JOD JPY KES KGS KHR KMF KRW KWD KYD
    KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MUR MVR MWK MXN MYR MZN NAD NGN NIO
    NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SEK SGD SHP
    SLE SOS SRD SZL THB TJS TND TOP TRY TTD TWD TZS UAH USD UYU UZS VND VUV WST XAF XCD XOF
    XPF YER ZAR ZMW
    """
)
"""Stripe's presentment currencies for card payments (UGX left out on purpose)."""


def stripe_exponent(currency: str) -> int:
    """The number of decimals of Stripe's amount unit for ``currency`` (upper-case ISO code)."""
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


def _iso_exponent(currency: str) -> int | None:
    try:
        return get_currency(currency).exponent
    except UnknownCurrencyError:
        return None


def supported_currencies() -> frozenset[str]:
    """The currencies this plugin encodes correctly: Stripe's list, active in paymux's ISO
    4217 table, whose ISO exponent converts to Stripe's unit (every one but UGX)."""
    return frozenset(
        code for code in _STRIPE_PRESENTMENT if code not in UNSUPPORTED and is_active_currency(code)
    )


@dataclass(frozen=True, slots=True)
class StripeAmount:
    """An amount as Stripe's API takes it: an integer and a lower-case currency code."""

    amount: int
    currency: str


def encode_amount(money: Money) -> StripeAmount:
    """``money`` in Stripe's unit; :class:`ProviderRejectedError` when Stripe cannot take it.

    Codes: ``currency-not-supported`` (not a currency this plugin claims) and
    ``amount-not-encodable`` (a fraction Stripe cannot express: a three-decimal amount not
    ending in 0, MGA cents). Raised before any request is sent.
    """
    currency = money.currency
    iso = _iso_exponent(currency)
    if currency not in supported_currencies() or iso is None:
        raise ProviderRejectedError(
            f"Stripe payments in {currency} are not supported by this plugin",
            code="currency-not-supported",
        )
    shift = stripe_exponent(currency) - iso
    if shift >= 0:
        amount = money.minor * 10**shift
    else:
        factor = 10**-shift
        if money.minor % factor:
            raise ProviderRejectedError(
                f"{money} has a fraction Stripe cannot charge in {currency}",
                code="amount-not-encodable",
            )
        amount = money.minor // factor
    if currency in THREE_DECIMAL and amount % 10:
        raise ProviderRejectedError(
            f"{money}: Stripe takes {currency} amounts in hundredths only (last digit 0)",
            code="amount-not-encodable",
        )
    return StripeAmount(amount=amount, currency=currency.lower())


def decode_amount(amount: int, currency: str) -> Money:
    """Stripe's ``amount`` in ``currency`` (either case) as paymux :class:`Money`.

    Raises ``ValueError`` when the amount has a fraction paymux's currency cannot hold
    (ISK hundredths other than 00) or the currency is unknown.
    """
    code = currency.upper()
    iso = _iso_exponent(code)
    if iso is None:
        raise ValueError(f"unknown currency {currency!r}")
    shift = iso - stripe_exponent(code)
    if shift >= 0:
        return Money(amount * 10**shift, code)
    factor = 10**-shift
    if amount % factor:
        raise ValueError(f"Stripe amount {amount} {currency} has a fraction {code} cannot hold")
    return Money(amount // factor, code)
