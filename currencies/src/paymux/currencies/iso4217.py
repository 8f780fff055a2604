"""The ISO 4217 currency table, shipped as versioned data.

The table lives in ``data/iso4217.csv`` inside this package, with the columns
``code,numeric,exponent,name,withdrawn``:

* ``exponent`` is the ISO 4217 *minor unit* (number of decimal places). It is
  empty for codes that ISO marks ``N.A.`` (precious metals, SDR, bond-market
  units, ``XTS``, ``XXX`` ...). Those codes can't be expressed in minor units,
  so this module treats them as unknown currencies for money.
* ``withdrawn`` is ``yes`` for codes that have left ISO 4217 List One (e.g.
  ``HRK``); they stay in the table so that historical amounts can still be
  represented.

The exponents are ISO's, not CLDR's (Babel's): for example ISO gives ``IQD`` 3
and ``MGA`` 2 decimal places where CLDR formats them with none.

Updating the table: edit the CSV from the latest List One / List Three
published by the ISO 4217 maintenance agency, move withdrawn codes to
``withdrawn=yes`` (never delete a row: stored amounts may use it), and bump
:data:`ISO4217_VERSION` in the same change.

The CSV is read lazily, once, on first lookup (not at import time).
"""

from __future__ import annotations

import csv
import functools
import io
import re
from dataclasses import dataclass
from importlib import resources

from paymux.currencies.errors import UnknownCurrencyError, WithdrawnCurrencyError

__all__ = [
    "ISO4217_VERSION",
    "Currency",
    "active_currencies",
    "get_active_currency",
    "get_currency",
    "is_active_currency",
]

ISO4217_VERSION = "2026-01-01"
"""Publication date of the ISO 4217 List One the CSV reflects (amendment 180:
``BGN`` withdrawn when Bulgaria adopted the euro)."""

_DATA_FILE = "iso4217.csv"
_COLUMNS = ("code", "numeric", "exponent", "name", "withdrawn")
_CODE_RE = re.compile(r"[A-Z]{3}")
_NUMERIC_RE = re.compile(r"[0-9]{3}")
_EXPONENT_RE = re.compile(r"[0-9]")


@dataclass(frozen=True, slots=True)
class Currency:
    """One ISO 4217 currency that can hold money.

    Attributes:
        code: Alphabetic code, three upper-case letters (``"EUR"``).
        numeric: Numeric code, always three digits (``"978"``, ``"008"``).
        exponent: ISO minor unit: the number of decimal places (``2`` for EUR,
            ``0`` for JPY, ``3`` for KWD, ``4`` for CLF).
        name: ISO's English name of the currency.
        withdrawn: ``True`` if the code is no longer in ISO 4217 List One.
    """

    code: str
    numeric: str
    exponent: int
    name: str
    withdrawn: bool


@dataclass(frozen=True, slots=True)
class _Table:
    """The parsed CSV: currencies with a minor unit, and codes without one."""

    currencies: dict[str, Currency]
    without_minor_unit: dict[str, str]  # code -> name


def _parse_table(text: str) -> _Table:
    """Parse and validate the CSV text; raise ``RuntimeError`` on bad data."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None or tuple(header) != _COLUMNS:
        raise RuntimeError(f"ISO 4217 table: header must be {','.join(_COLUMNS)}, got {header!r}")
    currencies: dict[str, Currency] = {}
    without_minor_unit: dict[str, str] = {}
    for line_no, row in enumerate(reader, start=2):
        if len(row) != len(_COLUMNS):
            raise RuntimeError(f"ISO 4217 table line {line_no}: expected 5 columns, got {row!r}")
        code, numeric, exponent, name, withdrawn = row
        if not _CODE_RE.fullmatch(code):
            raise RuntimeError(f"ISO 4217 table line {line_no}: bad code {code!r}")
        if code in currencies or code in without_minor_unit:
            raise RuntimeError(f"ISO 4217 table line {line_no}: duplicate code {code}")
        if not _NUMERIC_RE.fullmatch(numeric):
            raise RuntimeError(f"ISO 4217 table line {line_no}: bad numeric code {numeric!r}")
        if withdrawn not in ("yes", "no"):
            raise RuntimeError(f"ISO 4217 table line {line_no}: withdrawn must be yes/no")
        if not name or name != name.strip():
            raise RuntimeError(f"ISO 4217 table line {line_no}: bad name {name!r}")
        if exponent == "":
            without_minor_unit[code] = name
            continue
        if not _EXPONENT_RE.fullmatch(exponent):
            raise RuntimeError(f"ISO 4217 table line {line_no}: bad exponent {exponent!r}")
        currencies[code] = Currency(
            code=code,
            numeric=numeric,
            exponent=int(exponent),
            name=name,
            withdrawn=withdrawn == "yes",
        )
    return _Table(currencies=currencies, without_minor_unit=without_minor_unit)


@functools.cache
def _table() -> _Table:
    """Load the shipped CSV once, on first use."""
    text = resources.files("paymux.currencies").joinpath("data", _DATA_FILE).read_text("utf-8")
    return _parse_table(text)


def get_currency(code: str) -> Currency:
    """Return the ISO 4217 currency for an exact upper-case code.

    Withdrawn currencies are returned too (see :func:`get_active_currency`).
    The lookup is exact: ``"eur"`` is an error, never silently upper-cased.

    Raises:
        UnknownCurrencyError: ``code`` is not a string, not three upper-case
            letters, not in the table, or an ISO code without a minor unit
            (``XAU``, ``XDR``, ``XXX`` ...).
    """
    if not isinstance(code, str):
        raise UnknownCurrencyError(
            f"currency must be a three-letter code string such as 'EUR', not {type(code).__name__}"
        )
    table = _table()
    currency = table.currencies.get(code)
    if currency is not None:
        return currency
    if code in table.without_minor_unit:
        raise UnknownCurrencyError(
            f"{code} ({table.without_minor_unit[code]}) has no minor unit in ISO 4217, "
            "so it cannot be used as a money currency"
        )
    upper = code.upper()
    if upper != code and (upper in table.currencies or upper in table.without_minor_unit):
        raise UnknownCurrencyError(
            f"unknown currency {code!r}: currency codes are upper-case, did you mean {upper!r}?"
        )
    if not _CODE_RE.fullmatch(code):
        raise UnknownCurrencyError(
            f"{code!r} is not a currency code: expected three upper-case letters such as 'EUR'"
        )
    raise UnknownCurrencyError(
        f"unknown currency {code!r}: not in the ISO 4217 table (version {ISO4217_VERSION})"
    )


def get_active_currency(code: str) -> Currency:
    """Return the currency for ``code`` if it is currently in ISO 4217.

    Raises:
        UnknownCurrencyError: as for :func:`get_currency`.
        WithdrawnCurrencyError: the code exists but has been withdrawn
            (e.g. ``HRK``, replaced by ``EUR``).
    """
    currency = get_currency(code)
    if currency.withdrawn:
        raise WithdrawnCurrencyError(
            f"{currency.code} ({currency.name}) has been withdrawn from ISO 4217 "
            "and cannot be used for new amounts"
        )
    return currency


def active_currencies() -> list[Currency]:
    """Return every active (not withdrawn) currency with a minor unit, sorted by code.

    The list is a fresh copy; mutating it does not affect the table.
    """
    return sorted(
        (c for c in _table().currencies.values() if not c.withdrawn),
        key=lambda c: c.code,
    )


def is_active_currency(code: str) -> bool:
    """Return ``True`` if ``code`` is an exact, active ISO 4217 code usable for money.

    Never raises: anything else (lower-case, unknown, withdrawn, no minor unit,
    not a string) gives ``False``.
    """
    if not isinstance(code, str):
        return False
    currency = _table().currencies.get(code)
    return currency is not None and not currency.withdrawn
