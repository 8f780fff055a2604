"""Exact, vectorized conversion of decimal amount text (major units) to minor units.

Settlement reports write amounts as decimal text in major units (``12.34``); paymux keeps
integers in minor units. The conversion never goes through a float. More decimals than
the currency has, or anything that is not a plain decimal, is an error naming the line.

Two ways, with the same rules:

- :func:`to_minor` converts one column of a frame (splitting the text at its decimal
  point and reading both parts as integers): simple, for small files.
- :func:`fast_minor` builds one lazy expression per column, so that all the amount
  columns of a million-line report are converted in one pass, in parallel (a parser of
  large files uses it; about 0.25 s per column of a million lines less than
  ``to_minor``):

  - the text is cast to ``Decimal(38, 4)`` (polars parses it into a scaled integer,
    never a float), then to ``Int64`` ten-thousandths;
  - the number of decimals is counted on the text (after its ``.``); more than the
    currency's exponent is flagged, so the cast above never had to round;
  - minor units are the ten-thousandths divided by ``10 ** (4 - exponent)`` (exact).

  Differences from ``to_minor``: polars' decimal parser also reads ``+3`` and ``1e3``
  (exactly 3 and 1000); amounts are limited to :data:`LIMIT` major units. Everything
  else that is not a decimal (``12,34``, ``abc``, ``1.2.3``, spaces) is flagged, and
  :func:`first_bad_amount` names the first flagged line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

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


SCALE = 4
"""Decimals of the scaled integer amounts go through: the most ISO 4217 has."""

DECIMAL = pl.Decimal(38, SCALE)
"""What amount text is first cast to (exact: the text's decimals are checked to be at
most the currency's, so at most :data:`SCALE`)."""

LIMIT = 2**63 // 10**SCALE
"""Amounts are below this many major units (about 9.2 * 10**14), so they fit ``Int64``."""

_DIVISORS = {exponent: 10 ** (SCALE - exponent) for exponent in range(SCALE + 1)}


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
    """``10 ** (SCALE - exponent)``: what ten-thousandths are divided by to give minor
    units (null for a null exponent or one above :data:`SCALE`)."""
    return exponent.replace_strict(_DIVISORS, default=None, return_dtype=pl.Int64)


def decimals_expr(text: pl.Expr) -> pl.Expr:
    """How many characters the text has after its decimal point (0 without one)."""
    point = text.str.find(".", literal=True).cast(pl.Int64)
    return (text.str.len_bytes().cast(pl.Int64) - point - 1).fill_null(0)


def fast_minor(text: pl.Expr, exponent: pl.Expr, divisor: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """``(value, bad)`` of decimal text in major units.

    ``value`` is ``Int64`` minor units (0 where the text is null: read empty fields as
    null); ``bad`` is true where there is text but no number (anything but digits, a point
    and a sign, so no exponent), no currency, more decimals
    than the currency has, or :data:`LIMIT` major units or more. ``divisor`` is
    :func:`divisor_expr` of ``exponent``; pass both as columns (polars does not share a
    ``replace_strict`` between expressions, so computing it once per report saves a pass
    per column).
    """
    scaled = text.cast(DECIMAL, strict=False).to_physical().cast(pl.Int64, strict=False)
    value = scaled // divisor
    # polars' decimal cast also reads exponents ("1E-3") and rounds them away: only digits,
    # a point and a sign make an amount here
    foreign = text.str.contains(r"[^0-9.+\-]")
    bad = text.is_not_null() & (
        value.is_null() | foreign | (decimals_expr(text) > exponent)
    ).fill_null(True)
    return value.fill_null(0), bad


def first_bad_amount(
    frame: pl.DataFrame, columns: Iterable[AmountColumn], flags: Iterable[str]
) -> MalformedSettlementError | None:
    """The error for the first line of ``frame`` with a flagged amount, or ``None``.

    ``flags`` are boolean columns of ``frame`` (``bad`` of :func:`fast_minor`), one per
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
            if exponent is None or exponent > SCALE:
                reason = "has no known currency"
            elif _is_number(text) and abs(Decimal(text)) >= LIMIT:
                reason = "is too large"
            else:
                reason = f"is not an amount in major units with at most {exponent} decimals"
            return MalformedSettlementError(
                row["line_number"], f"{amount.column} {text!r} {reason}"
            )
    raise AssertionError("a flagged row without a flag")  # pragma: no cover


def _is_number(text: str) -> bool:
    body = text.removeprefix("-")
    whole, _, fraction = body.partition(".")
    return (whole + fraction).isdigit() and whole.isascii() and fraction.isascii()
