"""Decimal text in major units to minor units: exact for every amount (`to_minor` and the
vectorized `fast_minor`, which agree), errors name the line."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from paymux.core.reconciliation.amounts import (
    AmountColumn,
    divisor_expr,
    exponent_expr,
    exponents_of,
    fast_minor,
    first_bad_amount,
    to_minor,
)
from paymux.core.reconciliation.errors import MalformedSettlementError

EXPONENTS = {"JPY": 0, "EUR": 2, "KWD": 3, "CLF": 4}


@given(
    st.lists(
        st.tuples(st.sampled_from(sorted(EXPONENTS)), st.integers(-(10**15), 10**15)),
        min_size=1,
        max_size=50,
    )
)
def test_every_amount_converts_exactly(rows: list[tuple[str, int]]) -> None:
    texts = []
    for currency, minor in rows:
        exponent = EXPONENTS[currency]
        text = str(Decimal(minor).scaleb(-exponent))
        texts.append(text if "E" not in text else format(Decimal(minor).scaleb(-exponent), "f"))
    frame = pl.DataFrame(
        {
            "amount": texts,
            "currency": [currency for currency, _ in rows],
            "line_number": list(range(2, len(rows) + 2)),
        }
    )
    assert to_minor(frame, "amount", "currency").to_list() == [minor for _, minor in rows]


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("1.5", "JPY"),
        ("0.001", "EUR"),
        ("1,00", "EUR"),
        ("1e2", "EUR"),
        ("--1", "EUR"),
        ("x", "KWD"),
    ],
)
def test_text_that_is_not_an_amount_of_its_currency_names_its_line(
    text: str, currency: str
) -> None:
    frame = pl.DataFrame(
        {"amount": ["1", text], "currency": ["EUR", currency], "line_number": [7, 8]}
    )
    with pytest.raises(MalformedSettlementError) as refused:
        to_minor(frame, "amount", "currency")
    assert refused.value.line_number == 8
    assert repr(text) in str(refused.value)


def test_an_unknown_currency_names_its_line() -> None:
    frame = pl.DataFrame({"amount": ["1"], "currency": ["XXY"], "line_number": [4]})
    with pytest.raises(MalformedSettlementError, match="line 4: currency 'XXY'"):
        to_minor(frame, "amount", "currency")


# fast_minor: the vectorized conversion agrees with to_minor on every amount


def convert(texts: Sequence[str | None], currency: str) -> pl.DataFrame:
    frame = pl.DataFrame(
        {"t": texts, "c": [currency] * len(texts), "line_number": range(2, len(texts) + 2)},
        schema={"t": pl.String, "c": pl.String, "line_number": pl.Int64},
    )
    exponents = exponents_of([currency])
    frame = frame.with_columns(e=exponent_expr(pl.col("c"), exponents))
    frame = frame.with_columns(d=divisor_expr(pl.col("e")))
    value, bad = fast_minor(pl.col("t"), pl.col("e"), pl.col("d"))
    return frame.with_columns(v=value, b=bad)


@given(
    st.lists(st.tuples(st.booleans(), st.integers(0, 10**11), st.integers(0, 2)), min_size=1),
    st.sampled_from(["EUR", "JPY", "KWD", "CLF"]),
)
def test_valid_amounts_match_to_minor(parts: list[tuple[bool, int, int]], currency: str) -> None:
    exponent = {"EUR": 2, "JPY": 0, "KWD": 3, "CLF": 4}[currency]
    texts = []
    for negative, number, trim in parts:
        text = str(number).rjust(exponent + 1, "0")
        if exponent:
            text = text[:-exponent] + "." + text[-exponent:]
            text = text[: len(text) - min(trim, exponent)].rstrip(".")
        texts.append(("-" if negative else "") + text)
    converted = convert(texts, currency)
    assert not converted["b"].any()
    expected = to_minor(converted, "t", "c")
    assert converted["v"].to_list() == expected.to_list()


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [("12.34", "EUR", 1234), ("-0.05", "EUR", -5), (".5", "EUR", 50), ("7.", "EUR", 700),
     ("15", "JPY", 15), ("1.234", "KWD", 1234), (None, "EUR", 0), ("0", "EUR", 0)],
)  # fmt: skip
def test_amounts(text: str | None, currency: str, minor: int) -> None:
    converted = convert([text], currency)
    assert converted["v"].to_list() == [minor]
    assert converted["b"].to_list() == [False]


@pytest.mark.parametrize(
    ("text", "currency"),
    [("12.345", "EUR"), ("1.5", "JPY"), ("12,34", "EUR"), ("abc", "EUR"), ("1.2.3", "EUR"),
     (" 1", "EUR"), ("-", "EUR"), (".", "EUR"), ("1.00001", "EUR"), ("1.23456", "CLF"),
     ("10", "EURO"), ("1000000000000000", "EUR"), ("1E-3", "EUR"), ("1e-5", "EUR"),
     ("-1e-1", "JPY"), ("1e2", "EUR"), ("nan", "EUR"), ("inf", "EUR"), ("1_0", "EUR")],
)  # fmt: skip
def test_not_amounts_are_flagged_with_their_line(text: str, currency: str) -> None:
    converted = convert(["1", text], currency)
    assert converted["b"].to_list() == [currency == "EURO", True]
    error = first_bad_amount(converted, [AmountColumn("t", "e")], ["b"])
    assert isinstance(error, MalformedSettlementError)
    assert error.line_number == (2 if currency == "EURO" else 3)
    assert repr(text if currency != "EURO" else "1") in str(error)


def test_nothing_flagged_is_no_error() -> None:
    converted = convert(["1.00", None], "EUR")
    assert first_bad_amount(converted, [AmountColumn("t", "e")], ["b"]) is None


@given(
    text=st.text(alphabet="0123456789.+-eE _", min_size=1, max_size=9),
    currency=st.sampled_from(sorted(EXPONENTS)),
)
def test_any_text_is_flagged_or_converted_exactly(text: str, currency: str) -> None:
    converted = convert([text], currency)
    if converted["b"].to_list() == [True]:
        return
    exact = Decimal(text).scaleb(EXPONENTS[currency])  # what the text says, in minor units
    assert exact == exact.to_integral_value()
    assert converted["v"].to_list() == [int(exact)]
