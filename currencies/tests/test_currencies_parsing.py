"""Strict parsing of amount strings and canonical formatting."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paymux.currencies import (
    Currency,
    InvalidAmountError,
    UnknownCurrencyError,
    WithdrawnCurrencyError,
    active_currencies,
    format_amount,
    parse_amount,
)
from paymux.currencies.parsing import MAX_MINOR_UNITS


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("10.50", "EUR", 1050),
        ("10.5", "EUR", 1050),
        ("10", "EUR", 1000),
        ("0", "USD", 0),
        ("0.00", "USD", 0),
        ("-0", "USD", 0),
        ("-0.05", "USD", -5),
        ("-12.3", "EUR", -1230),
        ("15", "JPY", 15),
        ("1500", "JPY", 1500),
        ("1.234", "KWD", 1234),
        ("0.1", "IQD", 100),
        ("1.2345", "CLF", 12345),
        ("0.0001", "UYW", 1),
        ("1.5", "MGA", 150),
        ("9999999999999.99", "USD", 999999999999999),
    ],
)
def test_parse_valid_amounts(text: str, currency: str, minor: int) -> None:
    assert parse_amount(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "amount is empty"),
        ("+10", "'+10': a leading '+' is not allowed"),
        (" 10", "' 10': whitespace is not allowed in an amount"),
        ("10 ", "'10 ': whitespace is not allowed in an amount"),
        ("10\n", "'10\\n': whitespace is not allowed in an amount"),
        ("1 000", "'1 000': whitespace is not allowed in an amount"),
        ("1\u00a0000", "whitespace is not allowed in an amount"),
        ("1,000", "'1,000': thousands separators are not allowed"),
        ("1,000.00", "thousands separators are not allowed and the decimal separator is '.'"),
        ("10,50", "the decimal separator is '.'"),
        ("1_000", "thousands separators are not allowed"),
        ("1'000", "thousands separators are not allowed"),
        ("1.", "'1.': a decimal point must be followed by digits"),
        (".5", "'.5': a decimal point must have a digit before it"),
        ("-.5", "a decimal point must have a digit before it"),
        ("1e3", "'1e3': exponent notation is not allowed"),
        ("1E+3", "exponent notation is not allowed"),
        ("1.5e-2", "exponent notation is not allowed"),
        ("-2E5", "exponent notation is not allowed"),
        ("NaN", "NaN is not an amount"),
        ("nan", "NaN is not an amount"),
        ("-sNaN", "NaN is not an amount"),
        ("Infinity", "Infinity is not an amount"),
        ("-inf", "Infinity is not an amount"),
        ("007", "'007': leading zeros are not allowed"),
        ("-01.50", "leading zeros are not allowed"),
        ("00", "leading zeros are not allowed"),
        ("abc", "'abc' is not a decimal string such as \"10.50\""),
        ("-", "'-' is not a decimal string"),
        ("--1", "is not a decimal string"),
        ("1.2.3", "is not a decimal string"),
        ("1-", "is not a decimal string"),
        ("$10", "is not a decimal string"),
        ("10EUR", "is not a decimal string"),
        ("\uff11\uff10", "is not a decimal string"),  # full-width digits
        ("\u0661\u0660", "is not a decimal string"),  # Arabic-Indic digits
    ],
)
def test_parse_rejects_malformed_text(text: str, message: str) -> None:
    with pytest.raises(InvalidAmountError) as info:
        parse_amount(text, "USD")
    assert message in str(info.value)
    assert info.value.code == "invalid-amount"


@pytest.mark.parametrize(
    ("text", "currency", "message"),
    [
        ("10.001", "USD", "'10.001' has 3 decimal places but USD allows at most 2"),
        ("10.010", "USD", "'10.010' has 3 decimal places but USD allows at most 2"),
        ("1.5", "JPY", "'1.5' has 1 decimal place but JPY allows no decimal places"),
        ("1.0", "JPY", "'1.0' has 1 decimal place but JPY allows no decimal places"),
        ("1.2345", "KWD", "'1.2345' has 4 decimal places but KWD allows at most 3"),
        ("1.23456", "CLF", "'1.23456' has 5 decimal places but CLF allows at most 4"),
    ],
)
def test_parse_rejects_too_many_decimal_places(text: str, currency: str, message: str) -> None:
    with pytest.raises(InvalidAmountError) as info:
        parse_amount(text, currency)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("value", "described"),
    [
        (10.5, "a JSON number"),
        (10, "a JSON number"),
        (0, "a JSON number"),
        (True, "a boolean"),
        (None, "null"),
        (Decimal("10.50"), "a Decimal"),
        (b"10.50", "a bytes value"),
        (["10.50"], "a list value"),
    ],
)
def test_parse_rejects_non_strings(value: object, described: str) -> None:
    with pytest.raises(InvalidAmountError) as info:
        parse_amount(value, "USD")
    assert str(info.value) == f'amount must be a decimal string such as "10.50", not {described}'


def test_parse_length_limit() -> None:
    forty = "1" * 37 + ".00"
    assert len(forty) == 40
    with pytest.raises(InvalidAmountError, match="too large"):
        parse_amount(forty, "USD")
    with pytest.raises(InvalidAmountError, match="too long: 41 characters, at most 40"):
        parse_amount("1" * 38 + ".00", "USD")
    with pytest.raises(InvalidAmountError, match="too long"):
        parse_amount("9" * 100_000, "USD")


def test_parse_size_limit() -> None:
    assert parse_amount("10000000000000.00", "USD") == MAX_MINOR_UNITS
    assert parse_amount("-10000000000000.00", "USD") == -MAX_MINOR_UNITS
    assert parse_amount("1000000000000000", "JPY") == MAX_MINOR_UNITS
    with pytest.raises(InvalidAmountError, match=r"too large: at most 10000000000000\.00 USD"):
        parse_amount("10000000000000.01", "USD")
    with pytest.raises(InvalidAmountError, match="too large"):
        parse_amount("-1000000000000001", "JPY")


def test_parse_currency_errors() -> None:
    with pytest.raises(UnknownCurrencyError, match="not in the ISO 4217 table"):
        parse_amount("10.00", "ZZZ")
    with pytest.raises(UnknownCurrencyError, match="upper-case"):
        parse_amount("10.00", "usd")
    with pytest.raises(UnknownCurrencyError, match="no minor unit"):
        parse_amount("1", "XAU")
    with pytest.raises(WithdrawnCurrencyError, match="HRK"):
        parse_amount("10.00", "HRK")


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (1230, "EUR", "12.30"),
        (1500, "JPY", "1500"),
        (1234, "KWD", "1.234"),
        (-5, "EUR", "-0.05"),
        (0, "EUR", "0.00"),
        (0, "JPY", "0"),
        (5, "CLF", "0.0005"),
        (-100, "USD", "-1.00"),
        (199, "HRK", "1.99"),  # withdrawn currencies can still be formatted
    ],
)
def test_format_amount(minor: int, currency: str, text: str) -> None:
    assert format_amount(minor, currency) == text


@pytest.mark.parametrize("minor", [1.5, Decimal(1), "100", True])
def test_format_amount_requires_int(minor: object) -> None:
    with pytest.raises(TypeError, match="minor units must be an int"):
        format_amount(minor, "EUR")  # type: ignore[arg-type]


def test_format_amount_unknown_currency() -> None:
    with pytest.raises(UnknownCurrencyError):
        format_amount(100, "eur")


_ACTIVE = active_currencies()
_MINOR = st.integers(min_value=-MAX_MINOR_UNITS, max_value=MAX_MINOR_UNITS)


@given(minor=_MINOR, currency=st.sampled_from(_ACTIVE))
def test_parse_inverts_format(minor: int, currency: Currency) -> None:
    text = format_amount(minor, currency.code)
    assert parse_amount(text, currency.code) == minor
    places = len(text.partition(".")[2])
    assert places == currency.exponent


@given(
    text=st.from_regex(r"\A-?(0|[1-9][0-9]{0,20})(\.[0-9]{1,4})?\Z"),
    currency=st.sampled_from(_ACTIVE),
)
def test_parse_preserves_value_or_refuses(text: str, currency: Currency) -> None:
    places = len(text.partition(".")[2])
    if places > currency.exponent:
        with pytest.raises(InvalidAmountError, match="decimal place"):
            parse_amount(text, currency.code)
        return
    if abs(Decimal(text).scaleb(currency.exponent)) > MAX_MINOR_UNITS:
        with pytest.raises(InvalidAmountError, match="too large"):
            parse_amount(text, currency.code)
        return
    minor = parse_amount(text, currency.code)
    assert Decimal(format_amount(minor, currency.code)) == Decimal(text)
