"""Localized display with Babel symbols and ISO 4217 decimal places."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paymux.currencies import (
    Currency,
    InvalidLocaleError,
    Money,
    MoneyError,
    UnknownCurrencyError,
    active_currencies,
    currency_name,
    format_money,
)

NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("money", "locale", "expected"),
    [
        (Money(1500, "JPY"), "en_US", "¥1,500"),
        (Money(1234, "KWD"), "en_US", "KWD1.234"),
        (Money(123456, "EUR"), "de_DE", f"1.234,56{NBSP}€"),
        (Money(-123456, "EUR"), "de_DE", f"-1.234,56{NBSP}€"),
        (Money(123456, "EUR"), "de-DE", f"1.234,56{NBSP}€"),
        (Money(123456, "USD"), "en_US", "$1,234.56"),
        (Money(-5, "USD"), "en_US", "-$0.05"),
        (Money(0, "EUR"), "en_US", "€0.00"),
        # CLDR would show IQD and MGA without decimals; ISO exponents win.
        (Money(1234567, "IQD"), "en_US", "IQD1,234.567"),
        (Money(5, "IQD"), "en_US", "IQD0.005"),
        (Money(1234, "MGA"), "fr_FR", f"12,34{NBSP}MGA"),
        (Money(12345, "CLF"), "es_CL", "CLF1,2345"),
        (Money(123456789, "INR"), "en_IN", "₹12,34,567.89"),
        (Money(1999, "HRK"), "en_US", "HRK19.99"),
    ],
)
def test_format_money(money: Money, locale: str, expected: str) -> None:
    assert format_money(money, locale) == expected


def test_format_money_default_locale_is_en_us() -> None:
    assert format_money(Money(1050, "USD")) == "$10.50"


def test_format_money_never_rounds_huge_amounts() -> None:
    money = Money(10**45 + 1, "USD")
    assert format_money(money) == "$10," + "000," * 13 + "000.01"


@pytest.mark.parametrize("locale", ["xx_YY", "zz", "en_XX", "not a locale", ""])
def test_unknown_locale(locale: str) -> None:
    with pytest.raises(InvalidLocaleError) as info:
        format_money(Money(100, "EUR"), locale)
    assert info.value.code == "invalid-locale"
    assert isinstance(info.value, MoneyError)
    assert isinstance(info.value, ValueError)


def test_format_money_requires_money() -> None:
    with pytest.raises(TypeError, match="needs Money"):
        format_money(100, "en_US")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "locale", "expected"),
    [
        ("JPY", "en_US", "Japanese Yen"),
        ("EUR", "de_DE", "Euro"),
        ("USD", "fr_FR", "dollar des États-Unis"),
        ("KWD", "en_US", "Kuwaiti Dinar"),
    ],
)
def test_currency_name(code: str, locale: str, expected: str) -> None:
    assert currency_name(code, locale) == expected


def test_currency_name_errors() -> None:
    assert currency_name("EUR") == "Euro"
    with pytest.raises(UnknownCurrencyError, match="upper-case"):
        currency_name("eur")
    with pytest.raises(InvalidLocaleError):
        currency_name("EUR", "xx_YY")


@given(
    minor=st.integers(min_value=-(10**20), max_value=10**20),
    currency=st.sampled_from(active_currencies()),
)
def test_displayed_digits_are_the_exact_amount(minor: int, currency: Currency) -> None:
    money = Money(minor, currency.code)
    shown = format_money(money, "en_US")
    assert re.sub(r"[^0-9]", "", shown) == re.sub(r"[^0-9]", "", money.amount_str)
    assert shown.startswith("-") == money.is_negative
