"""Localized display of money and its dates with Babel, using ISO 4217 decimal places.

Babel (CLDR) supplies the currency symbol, the symbol's position and the
locale's separators and grouping. The number of decimal places is always the
ISO 4217 exponent, not CLDR's "customary" digits, so an amount is never shown
rounded: 1.234 KWD stays 1.234 and 0.05 IQD is not shown as 0.
Dates and date-times use the locale's CLDR patterns; a date-time is shown in UTC and
says so (``24.11.2026, 21:00:00 UTC``), as no time zone of the reader is known.
Display strings are for people only; never parse them back.
"""

from __future__ import annotations

import copy
import decimal
import functools
from datetime import UTC, date, datetime

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_interval, format_time, get_datetime_format
from babel.numbers import NumberPattern, get_currency_name

from paymux.currencies.errors import InvalidLocaleError
from paymux.currencies.iso4217 import get_currency
from paymux.currencies.money import Money

__all__ = [
    "currency_name",
    "find_locale",
    "format_day_range",
    "format_instant",
    "format_money",
]


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


def find_locale(tag: str) -> str | None:
    """The Babel identifier of language tag ``tag``, or ``None`` when CLDR has no such locale.

    ``find_locale("de-DE")`` is ``"de_DE"``, ``find_locale("zh-TW")`` is ``"zh_Hant_TW"``
    (CLDR's likely script), ``find_locale("de-XX")`` is ``None``. No fallback to a shorter
    tag: that is the caller's choice (``de-XX`` -> ``de``).
    """
    if not isinstance(tag, str) or not tag:
        return None
    try:
        return str(_locale(tag))
    except InvalidLocaleError:
        return None


def format_instant(moment: datetime, locale: str = "en_US") -> str:
    """A date-time for people in ``locale``: CLDR's medium date and long time, in UTC.

    ``datetime(2026, 11, 24, 21, tzinfo=UTC)`` is ``"24.11.2026, 21:00:00 UTC"`` in
    ``de_DE`` and ``"Nov 24, 2026, 9:00:00\u202fPM UTC"`` in ``en_US``. A naive
    ``moment`` is taken as UTC.

    Raises:
        InvalidLocaleError: ``locale`` is not a locale Babel knows.
    """
    babel_locale = _get_locale(locale)
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    # Babel's format_datetime() uses one width for both parts; the long time names the zone.
    pattern = str(get_datetime_format("medium", locale=babel_locale)).replace("'", "")
    time_text = format_time(moment, "long", tzinfo=UTC, locale=babel_locale)
    date_text = format_date(moment, "medium", locale=babel_locale)
    return pattern.replace("{0}", time_text).replace("{1}", date_text)


def format_day_range(first: date, last: date, locale: str = "en_US") -> str:
    """One day or a range of days for people in ``locale``: CLDR's ``yMMMd`` skeleton.

    ``"1.–3. Dez. 2026"`` in ``de_DE`` for December 1 to 3, ``"1. Dez. 2026"`` for one day.

    Raises:
        InvalidLocaleError: ``locale`` is not a locale Babel knows.
    """
    babel_locale = _get_locale(locale)
    return str(format_interval(first, last, "yMMMd", locale=babel_locale))
