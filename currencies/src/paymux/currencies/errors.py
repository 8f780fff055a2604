"""Errors raised by :mod:`paymux.currencies`.

Every error is a :class:`MoneyError`, which is a :class:`ValueError`. Each class
carries a stable ``code`` slug that the API uses as its problem type, so the
slugs must never change once published. The message (``str(error)``) is meant
for humans and says exactly what was wrong.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AllocationError",
    "CurrencyMismatchError",
    "InvalidAmountError",
    "InvalidLocaleError",
    "MoneyError",
    "UnknownCurrencyError",
    "WithdrawnCurrencyError",
]


class MoneyError(ValueError):
    """Base class of every error raised by :mod:`paymux.currencies`."""

    code: ClassVar[str] = "money-error"


class UnknownCurrencyError(MoneyError):
    """The currency code is not in the ISO 4217 table, or cannot hold money.

    Raised for misspelt or lower-case codes and for ISO codes without a minor
    unit (gold, SDR, ``XXX`` ...), which can't be expressed in minor units.
    """

    code: ClassVar[str] = "unknown-currency"


class WithdrawnCurrencyError(MoneyError):
    """The currency exists in ISO 4217 but has been withdrawn (e.g. ``HRK``)."""

    code: ClassVar[str] = "withdrawn-currency"


class InvalidAmountError(MoneyError):
    """An amount is of the wrong type, badly written, or too precise."""

    code: ClassVar[str] = "invalid-amount"


class CurrencyMismatchError(MoneyError):
    """Two amounts in different currencies were combined or compared."""

    code: ClassVar[str] = "currency-mismatch"


class AllocationError(MoneyError):
    """The ratios or part count given to an allocation are not usable."""

    code: ClassVar[str] = "invalid-allocation"


class InvalidLocaleError(MoneyError):
    """A display locale is malformed or unknown to Babel/CLDR."""

    code: ClassVar[str] = "invalid-locale"
