"""Exact, vectorized conversion of decimal amount text (major units) to minor units.

Settlement reports write amounts as decimal text in major units (``12.34``); paymux keeps
integers in minor units. The conversion never goes through a float: the text is split at
its decimal point and both parts are read as integers. More decimals than the currency
has, or anything that is not a plain decimal, is an error naming the line.
"""

from __future__ import annotations

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
