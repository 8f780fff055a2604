"""Exact, vectorized conversion of decimal amount text (major units) to minor units.

Settlement reports write amounts as decimal text in major units (``12.34``); paymux keeps
integers in minor units. The conversion never goes through a float. More decimals than
the currency has, or anything that is not a decimal number, is an error naming the line.

Two ways:

- :func:`to_minor` converts one column of a frame (splitting the text at its decimal
  point and reading both parts as integers): simple and strict, for small files.
- :func:`decimal_minor` converts amounts polars has read as :data:`DECIMAL` (a large
  report's amount columns are read as decimals by the CSV reader itself, in parallel,
  which costs about a fifth of reading them as text and converting that):

  - :data:`DECIMAL` is a scaled integer with :data:`SCALE` (20) decimals: polars reads
    the text into it exactly (never through a float) as long as it has at most 20
    decimals;
  - minor units are that integer divided by ``10 ** (SCALE - exponent)``; a remainder
    means more decimals than the currency has, and the amount is flagged;
  - an amount of more minor units than ``Int64`` holds is flagged.

  What polars reads as a decimal is a little wider than ``to_minor``'s decimals: a
  leading ``+``, leading spaces and an exponent (``1e3``) are read, exactly. Beyond 20
  decimals polars rounds at the 20th before paymux sees the value, so an amount that
  is off a whole minor unit by less than ``10**-20`` of a major unit passes. Everything
  else that is not a number (``12,34``, ``abc``, ``1.2.3``, trailing spaces) is refused
  by the CSV reader; :func:`text_amount` reads text the same way (for the checked
  path, where the amounts are read as text so that an error can quote them), and
  :func:`first_bad_amount` names the first flagged line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import polars as pl

from paymux.core.reconciliation.errors import MalformedSettlementError
from paymux.currencies import get_currency
from paymux.currencies.errors import MoneyError

_DECIMAL = r"^-?[0-9]+(\.[0-9]*)?$|^-?\.[0-9]+$"


def check_currencies(frame: pl.DataFrame, column: str) -> dict[str, int]:
    """Exponents of the codes in ``frame[column]``; a bad code names its first line."""
    found: dict[str, int] = {}
    for code in frame.get_column(column).unique().to_list():
        if code is None:
            line = frame.filter(pl.col(column).is_null())["line_number"][0]
            raise MalformedSettlementError(line, f"{column} is empty")
        try:
            found[code] = get_currency(code).exponent
        except MoneyError:
            line = frame.filter(pl.col(column) == code)["line_number"][0]
            raise MalformedSettlementError(
                line, f"{column} {code!r} is not an ISO 4217 currency"
            ) from None
    return found


def to_minor(
    frame: pl.DataFrame, column: str, currency_column: str, *, label: str | None = None
) -> pl.Series:
    """``frame[column]`` (decimal text in major units; empty means 0) as Int64 minor units.

    ``currency_column`` names each row's currency; ``frame`` must have ``line_number``.
    Raises :class:`MalformedSettlementError` for the first line whose amount is not a
    decimal or has more decimals than its currency.
    """
    name = label or column
    text = frame.get_column(column).cast(pl.String).str.strip_chars().fill_null("")
    text = pl.Series(column, text).replace("", "0")
    exps = check_currencies(frame, currency_column)
    exp = frame.get_column(currency_column).replace_strict(exps, return_dtype=pl.Int64)
    work = pl.DataFrame({"t": text, "e": exp, "line_number": frame["line_number"]})
    parts = work.with_columns(
        neg=pl.col("t").str.starts_with("-"),
        body=pl.col("t").str.strip_prefix("-"),
        ok=pl.col("t").str.contains(_DECIMAL),
    ).with_columns(
        whole=pl.col("body").str.split_exact(".", 1).struct.field("field_0"),
        frac=pl.col("body").str.split_exact(".", 1).struct.field("field_1").fill_null(""),
    )
    parts = parts.with_columns(
        ok=pl.col("ok") & (pl.col("frac").str.len_chars() <= pl.col("e")),
        whole=pl.when(pl.col("whole") == "").then(pl.lit("0")).otherwise(pl.col("whole")),
        frac=pl.when(pl.col("frac") == "").then(pl.lit("0")).otherwise(pl.col("frac")),
        scale=pl.col("e") - pl.col("frac").str.len_chars(),
    )
    bad = parts.filter(~pl.col("ok"))
    if bad.height:
        row = bad.row(0, named=True)
        raise MalformedSettlementError(
            row["line_number"],
            f"{name} {row['t']!r} is not an amount in major units with at most {row['e']} decimals",
        )
    ten = pl.lit(10, dtype=pl.Int64)
    value = parts.select(
        (
            pl.col("whole").cast(pl.Int64, strict=False) * ten.pow(pl.col("e"))
            + pl.col("frac").cast(pl.Int64, strict=False) * ten.pow(pl.col("scale"))
        )
        * pl.when(pl.col("neg")).then(-1).otherwise(1)
    ).to_series()
    overflow = parts.filter(value.is_null())
    if overflow.height:
        row = overflow.row(0, named=True)
        raise MalformedSettlementError(row["line_number"], f"{name} {row['t']!r} is too large")
    return value.alias(column)


SCALE = 20
"""Decimals of :data:`DECIMAL`: far more than any ISO 4217 currency has (at most 4)."""

DECIMAL = pl.Decimal(38, SCALE)
"""What a large report's amount columns are read as: exact up to :data:`SCALE` decimals
and below ``10 ** 18`` major units (38 digits in all)."""

_DIVISORS = {exponent: 10 ** (SCALE - exponent) for exponent in range(5)}


@dataclass(frozen=True, slots=True)
class AmountColumn:
    """An amount column of a report and the column holding its currency's exponent."""

    column: str
    exponent: str
    """An ``Int64`` column (null: no or an unknown currency)."""


def exponents_of(codes: Iterable[str | None]) -> dict[str, int]:
    """ISO 4217 exponents of the known codes among ``codes``; unknown codes are left out
    (an amount in an unknown currency is then flagged as having no currency)."""
    found: dict[str, int] = {}
    for code in codes:
        if code is None or code in found:
            continue
        try:
            found[code] = get_currency(code).exponent
        except MoneyError:
            continue
    return found


def exponent_expr(currency: pl.Expr, exponents: Mapping[str, int]) -> pl.Expr:
    """The exponent of each row's currency code (null for no or an unknown code)."""
    return currency.replace_strict(dict(exponents), default=None, return_dtype=pl.Int64)


def divisor_expr(exponent: pl.Expr) -> pl.Expr:
    """``10 ** (SCALE - exponent)`` as ``Int128``: what a :data:`DECIMAL`'s scaled integer
    is divided by to give minor units (null for a null exponent or one above 4)."""
    return exponent.replace_strict(_DIVISORS, default=None, return_dtype=pl.Int128)


def text_amount(text: pl.Expr) -> pl.Expr:
    """Decimal text as :data:`DECIMAL`, read as polars' CSV reader reads an amount column
    of that type (leading spaces skipped); null where the text is no number."""
    return text.str.strip_chars_start(" ").cast(DECIMAL, strict=False)


def text_minor(text: pl.Expr, divisor: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """:func:`decimal_minor` of decimal text (:func:`text_amount`); text that is no number
    is flagged too."""
    amount = text_amount(text)
    value, bad = decimal_minor(amount, divisor)
    return value, bad | (text.is_not_null() & amount.is_null())


def decimal_minor(amount: pl.Expr, divisor: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """``(value, bad)`` of an amount read as :data:`DECIMAL` (null: an empty field).

    ``value`` is ``Int64`` minor units (0 where the amount is null); ``bad`` is true where
    there is an amount but no currency (a null ``divisor``), more decimals than the
    currency has, or more minor units than ``Int64`` holds. ``divisor`` is
    :func:`divisor_expr` of the currency's exponent, as a column (computed once per
    report, not once per amount column).
    """
    scaled = amount.to_physical()
    value = (scaled // divisor).cast(pl.Int64, strict=False)
    bad = amount.is_not_null() & ((scaled % divisor != 0) | value.is_null()).fill_null(True)
    return value.fill_null(0), bad


def first_bad_amount(
    frame: pl.DataFrame, columns: Iterable[AmountColumn], flags: Iterable[str]
) -> MalformedSettlementError | None:
    """The error for the first line of ``frame`` with a flagged amount, or ``None``.

    ``flags`` are boolean columns of ``frame`` (``bad`` of :func:`decimal_minor`), one per
    column of ``columns``; ``frame`` also has ``line_number``, the amount text columns
    and the exponent columns.
    """
    pairs = list(zip(columns, flags, strict=True))
    if not pairs:
        return None
    bad = frame.filter(pl.any_horizontal([pl.col(flag) for _, flag in pairs]))
    if bad.height == 0:
        return None
    row = bad.row(0, named=True)
    for amount, flag in pairs:
        if row[flag]:
            text, exponent = row[amount.column], row[amount.exponent]
            if exponent is None or exponent >= len(_DIVISORS):
                reason = "has no known currency"
            elif _too_large(text, exponent):
                reason = "is too large"
            else:
                reason = f"is not an amount in major units with at most {exponent} decimals"
            return MalformedSettlementError(
                row["line_number"], f"{amount.column} {text!r} {reason}"
            )
    raise AssertionError("a flagged row without a flag")  # pragma: no cover


def _too_large(text: str, exponent: int) -> bool:
    """Whether ``text`` is a number of more minor units than ``Int64`` holds."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return False
    return value.is_finite() and abs(value.scaleb(exponent)) >= 2**63
