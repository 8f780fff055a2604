"""paymux.currencies: exact money in ISO 4217 minor units.

* :class:`Money`: an ``int`` of minor units plus a currency code; never a float.
* The ISO 4217 table (:func:`get_currency`, :func:`get_active_currency`, ...),
  shipped as a versioned CSV (:data:`ISO4217_VERSION`).
* Strict parsing and canonical formatting of decimal amount strings
  (:func:`parse_amount`, :func:`format_amount`).
* Exact allocation (:func:`allocate`, :func:`split_evenly`).
* Localized display with Babel (:func:`format_money`, :func:`currency_name`).

All errors are :class:`MoneyError` (a ``ValueError``) with a stable ``code``.
This package imports no web framework and no ORM.
"""

from paymux.currencies.allocation import allocate, split_evenly
from paymux.currencies.display import currency_name, format_money
from paymux.currencies.errors import (
    AllocationError,
    CurrencyMismatchError,
    InvalidAmountError,
    InvalidLocaleError,
    MoneyError,
    UnknownCurrencyError,
    WithdrawnCurrencyError,
)
from paymux.currencies.iso4217 import (
    ISO4217_VERSION,
    Currency,
    active_currencies,
    get_active_currency,
    get_currency,
    is_active_currency,
)
from paymux.currencies.money import Money
from paymux.currencies.parsing import format_amount, parse_amount

__all__ = [
    "ISO4217_VERSION",
    "AllocationError",
    "Currency",
    "CurrencyMismatchError",
    "InvalidAmountError",
    "InvalidLocaleError",
    "Money",
    "MoneyError",
    "UnknownCurrencyError",
    "WithdrawnCurrencyError",
    "active_currencies",
    "allocate",
    "currency_name",
    "format_amount",
    "format_money",
    "get_active_currency",
    "get_currency",
    "is_active_currency",
    "parse_amount",
    "split_evenly",
]
