"""Decimal text in major units to minor units: exact for every amount, errors name the line."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from paymux.core.reconciliation.amounts import to_minor
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
