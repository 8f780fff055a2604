"""Localized display of money with Babel, using ISO 4217 decimal places.

Babel (CLDR) supplies the currency symbol, the symbol's position and the
locale's separators and grouping. The number of decimal places is always the
ISO 4217 exponent, not CLDR's "customary" digits, so an amount is never shown
rounded: 1.234 KWD stays 1.234 and 0.05 IQD is not shown as 0.
Display strings are for people only; never parse them back.
"""

from __future__ import annotations

import copy
import decimal
import functools

from babel import Locale, UnknownLocaleError
from babel.numbers import NumberPattern, get_currency_name

from paymux.currencies.errors import InvalidLocaleError
from paymux.currencies.iso4217 import get_currency
from paymux.currencies.money import Money

__all__ = ["currency_name", "format_money"]


@functools.lru_cache(maxsize=256)
def _locale(identifier: str) -> Locale:
    try:
        return Locale.parse(identifier.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError) as exc:
        raise InvalidLocaleError(
            f"unknown locale {identifier!r}: expected a CLDR locale such as 'en_US' or 'de_DE'"
        ) from exc


def _get_locale(identifier: str) -> Locale:
    if not isinstance(identifier, str) or not identifier:
        raise InvalidLocaleError(
            f"locale must be a non-empty string such as 'en_US', not {identifier!r}"
        )
    return _locale(identifier)


def format_money(money: Money, locale: str = "en_US") -> str:
    """Format ``money`` for people in ``locale``, with ISO decimal places.

    ``format_money(Money(1500, "JPY"))`` is ``"¥1,500"``,
    ``format_money(Money(1234, "KWD"))`` is ``"KWD1.234"`` and
    ``format_money(Money(123456, "EUR"), "de_DE")`` is ``"1.234,56\\xa0€"``
    (Babel separates the symbol with a no-break space). ``"de-DE"`` is
    accepted as well as ``"de_DE"``.

    Raises:
        InvalidLocaleError: ``locale`` is not a locale Babel knows.
        TypeError: ``money`` is not a :class:`Money`.
    """
    if not isinstance(money, Money):
        raise TypeError(f"format_money() needs Money, not {type(money).__name__}")
    babel_locale = _get_locale(locale)
    standard = babel_locale.currency_formats["standard"]
    pattern: NumberPattern = copy.copy(standard)
    exponent = money.exponent
    pattern.frac_prec = (exponent, exponent)
    value = money.to_decimal()
    # Babel quantizes in the current decimal context; make room for any amount.
    with decimal.localcontext() as context:
        context.prec = max(context.prec, len(str(abs(money.minor))) + 10)
        text: str = pattern.apply(
            value, babel_locale, currency=money.currency, currency_digits=False
        )
    return text


def currency_name(code: str, locale: str = "en_US") -> str:
    """Return the display name of currency ``code`` in ``locale``, from Babel.

    ``currency_name("JPY")`` is ``"Japanese Yen"``, ``currency_name("EUR",
    "de_DE")`` is ``"Euro"``. For a code CLDR doesn't know, the ISO 4217
    (English) name is returned.

    Raises:
        UnknownCurrencyError: ``code`` is not a known ISO 4217 code with a
            minor unit (exact upper-case, as for :func:`get_currency`).
        InvalidLocaleError: ``locale`` is not a locale Babel knows.
    """
    currency = get_currency(code)
    babel_locale = _get_locale(locale)
    name = get_currency_name(currency.code, locale=babel_locale)
    return currency.name if name == currency.code else name
