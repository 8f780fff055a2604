"""The bank-transfer plugin's amounts on its wires, for every currency it claims (SEPA: EUR
only): pain.001 payout batches and camt.053 statements carry decimal strings with the
currency's two decimals, and read back to the same Money."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paymux.currencies import Money, format_amount, parse_amount
from paymux_bank_transfer.fake_bank import credit, statement
from paymux_bank_transfer.pain001 import Debtor, Transfer, build_batch
from paymux_bank_transfer.provider import CURRENCY
from paymux_bank_transfer.statements import parse_statement

CLAIMED = sorted({CURRENCY})
AMOUNTS = (1, 7, 100, 123457, 98765432, 99_999_999_999)
"""One cent up to SEPA's largest credit transfer, 999 999 999.99 EUR."""
ACCOUNT = "DE89370400440532013000"
DEBTOR = Debtor("Marketplace GmbH", ACCOUNT, "COBADEFFXXX")
_INSTRUCTED = re.compile(r'<InstdAmt Ccy="([A-Z]{3})">([^<]+)</InstdAmt>')


def batch_amounts(money: Money) -> list[Money]:
    transfer = Transfer("E2E-1", money.minor, "DE02120300000000202051", None, "Seller", "po_1")
    _, xml = build_batch(DEBTOR, [transfer], execution_date=date(2026, 11, 25), currency=CURRENCY)
    return [
        Money(parse_amount(amount, ccy), ccy) for ccy, amount in _INSTRUCTED.findall(xml.decode())
    ]


def statement_amount(money: Money) -> Money | None:
    (line,) = parse_statement(statement(ACCOUNT, [credit(money, "RF18539007547034")]))
    return line.amount


def test_the_plugin_claims_sepa_euro_only() -> None:
    assert CLAIMED == ["EUR"]


@pytest.mark.parametrize("currency", CLAIMED)
@pytest.mark.parametrize("minor", AMOUNTS)
def test_every_claimed_currency_round_trips_on_both_wires(currency: str, minor: int) -> None:
    money = Money(minor, currency)
    assert batch_amounts(money) == [money]
    assert statement_amount(money) == money


@settings(max_examples=50, deadline=None)
@given(minor=st.integers(min_value=1, max_value=99_999_999_999))
def test_any_sepa_amount_round_trips(minor: int) -> None:
    money = Money(minor, CURRENCY)
    assert batch_amounts(money) == [money]
    assert statement_amount(money) == money


def test_a_statement_amount_with_more_decimals_than_euro_settles_nothing() -> None:
    xml = statement(ACCOUNT, [credit(Money(1234, "EUR"), "RF18539007547034")])
    (line,) = parse_statement(xml.replace(b">12.34<", b">12.345<"))
    assert format_amount(1234, "EUR") == "12.34"
    assert line.amount is None
