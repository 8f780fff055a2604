"""Strict conversion between decimal amount strings and integer minor units.

The only accepted amount syntax is ``-?(0|[1-9][0-9]*)(\\.[0-9]+)?`` with at
most :data:`MAX_AMOUNT_LENGTH` characters, and at most as many decimal places
as the currency's ISO 4217 exponent. Everything else is refused with an
:class:`~paymux.currencies.errors.InvalidAmountError` whose message says what
was wrong. Amounts are never floats: a JSON number is refused, because by the
time it reaches us it may already have been rounded by a JSON parser.
"""

from __future__ import annotations

import re
from decimal import Decimal

from paymux.currencies.errors import InvalidAmountError
from paymux.currencies.iso4217 import get_active_currency, get_currency

__all__ = ["MAX_AMOUNT_LENGTH", "MAX_MINOR_UNITS", "format_amount", "parse_amount"]

MAX_AMOUNT_LENGTH = 40

MAX_MINOR_UNITS = 10**15
"""The largest amount (in minor units, either sign) :func:`parse_amount` accepts: 10 trillion
euros, a million times more than any payment, and far enough below the 64-bit integers
amounts are stored in that sums and balances of such amounts cannot overflow."""
"""Longest accepted amount string, sign and decimal point included."""

_AMOUNT_RE = re.compile(r"(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?")
_EXPONENT_NOTATION_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)[eE][+-]?[0-9]+")
_NAN_RE = re.compile(r"[+-]?s?nan[0-9]*", re.IGNORECASE)
_INFINITY_RE = re.compile(r"[+-]?inf(inity)?", re.IGNORECASE)
_EXAMPLE = 'a decimal string such as "10.50"'


def _describe_non_string(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a JSON number"
    if isinstance(value, Decimal):
        return "a Decimal"
    return f"a {type(value).__name__} value"


def _syntax_error(text: str) -> InvalidAmountError:
    """Explain why ``text`` (at most MAX_AMOUNT_LENGTH long) is not a valid amount."""
    shown = repr(text)
    if text == "":
        reason = "amount is empty"
    elif any(ch.isspace() for ch in text):
        reason = f"{shown}: whitespace is not allowed in an amount"
    elif _NAN_RE.fullmatch(text):
        reason = "NaN is not an amount"
    elif _INFINITY_RE.fullmatch(text):
        reason = "Infinity is not an amount"
    elif _EXPONENT_NOTATION_RE.fullmatch(text):
        reason = f"{shown}: exponent notation is not allowed, write the digits out"
    elif text.startswith("+"):
        reason = f"{shown}: a leading '+' is not allowed"
    elif "," in text or "_" in text or "'" in text:
        reason = f"{shown}: thousands separators are not allowed and the decimal separator is '.'"
    elif text.lstrip("-").startswith("."):
        reason = f"{shown}: a decimal point must have a digit before it (write '0.5', not '.5')"
    elif text.endswith("."):
        reason = f"{shown}: a decimal point must be followed by digits (write '1' or '1.0')"
    elif re.fullmatch(r"-?0[0-9]+(\.[0-9]*)?", text):
        reason = f"{shown}: leading zeros are not allowed"
    else:
        reason = f"{shown} is not {_EXAMPLE}"
    return InvalidAmountError(reason)


def parse_amount(value: object, currency: str) -> int:
    """Parse a decimal amount string into integer minor units of ``currency``.

    ``parse_amount("10.5", "EUR") == 1050``, ``parse_amount("15", "JPY") == 15``,
    ``parse_amount("-0.05", "USD") == -5``. Fewer decimal places than the
    currency's exponent are fine; more are an error, never rounded.

    Raises:
        InvalidAmountError: ``value`` is not a ``str`` (a JSON number, bool,
            ``None``, ``Decimal`` ...), does not match
            ``-?(0|[1-9][0-9]*)(\\.[0-9]+)?``, is longer than
            :data:`MAX_AMOUNT_LENGTH`, has too many decimal places, or is larger
            than :data:`MAX_MINOR_UNITS` minor units.
        UnknownCurrencyError: ``currency`` is not a known ISO 4217 code with a
            minor unit.
        WithdrawnCurrencyError: ``currency`` has been withdrawn.
    """
    if not isinstance(value, str):
        raise InvalidAmountError(f"amount must be {_EXAMPLE}, not {_describe_non_string(value)}")
    if len(value) > MAX_AMOUNT_LENGTH:
        raise InvalidAmountError(
            f"amount is too long: {len(value)} characters, at most {MAX_AMOUNT_LENGTH} allowed"
        )
    match = _AMOUNT_RE.fullmatch(value)
    if match is None:
        raise _syntax_error(value)
    exponent = get_active_currency(currency).exponent
    sign, whole, fraction = match.group(1), match.group(2), match.group(3) or ""
    if len(fraction) > exponent:
        places = len(fraction)
        allowed = "no decimal places" if exponent == 0 else f"at most {exponent}"
        raise InvalidAmountError(
            f"{value!r} has {places} decimal place{'' if places == 1 else 's'} "
            f"but {currency} allows {allowed}"
        )
    minor = int(whole + fraction.ljust(exponent, "0"))
    if minor > MAX_MINOR_UNITS:
        raise InvalidAmountError(
            f"{value!r} is too large: at most {format_amount(MAX_MINOR_UNITS, currency)} {currency}"
        )
    return -minor if sign else minor


def format_amount(minor: int, currency: str) -> str:
    """Format integer minor units as the canonical decimal string.

    The result has exactly the currency's exponent of decimal places:
    ``format_amount(1230, "EUR") == "12.30"``, ``format_amount(1500, "JPY") ==
    "1500"``, ``format_amount(1234, "KWD") == "1.234"``,
    ``format_amount(-5, "EUR") == "-0.05"``. It is the inverse of
    :func:`parse_amount`. Withdrawn currencies are accepted so that historical
    amounts can still be shown.

    Raises:
        TypeError: ``minor`` is not an ``int`` (or is a ``bool``).
        UnknownCurrencyError: ``currency`` is not a known ISO 4217 code with a
            minor unit.
    """
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise TypeError(f"minor units must be an int, not {type(minor).__name__}")
    exponent = get_currency(currency).exponent
    sign = "-" if minor < 0 else ""
    digits = str(abs(minor))
    if exponent == 0:
        return sign + digits
    digits = digits.rjust(exponent + 1, "0")
    return f"{sign}{digits[:-exponent]}.{digits[-exponent:]}"
