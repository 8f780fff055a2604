"""Localized display with Babel symbols and ISO 4217 decimal places."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone

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
from paymux.currencies.display import find_locale, format_day_range, format_instant

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


# --- dates and locales --------------------------------------------------------------------

NNBSP = "\u202f"
RLM = "\u200f"


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("de_DE", "24.11.2026, 21:00:00 UTC"),
        ("de-DE", "24.11.2026, 21:00:00 UTC"),
        ("ja_JP", "2026/11/24 21:00:00 UTC"),
        ("en_US", f"Nov 24, 2026, 9:00:00{NNBSP}PM UTC"),
        ("fr_CH", "24 nov. 2026, 21:00:00 TU"),
        ("ar_KW", f"24{RLM}/11{RLM}/2026، 9:00:00 م UTC"),
    ],
)
def test_format_instant_is_medium_date_and_long_time_in_utc(locale: str, expected: str) -> None:
    assert format_instant(datetime(2026, 11, 24, 21, tzinfo=UTC), locale) == expected


def test_format_instant_converts_to_utc() -> None:
    tokyo = timezone(timedelta(hours=9))
    moment = datetime(2026, 11, 25, 6, tzinfo=tokyo)  # 21:00 UTC the day before
    assert format_instant(moment, "de_DE") == "24.11.2026, 21:00:00 UTC"
    assert format_instant(datetime(2026, 11, 24, 21), "de_DE") == "24.11.2026, 21:00:00 UTC"


@pytest.mark.parametrize(
    ("locale", "first", "last", "expected"),
    [
        ("de_DE", date(2026, 12, 1), date(2026, 12, 3), "1.–3. Dez. 2026"),
        ("de_DE", date(2026, 12, 1), date(2026, 12, 1), "1. Dez. 2026"),
        ("ja_JP", date(2026, 12, 1), date(2026, 12, 3), "2026年12月1日～3日"),
        ("en_US", date(2026, 12, 30), date(2027, 1, 2), "Dec 30, 2026\u2009–\u2009Jan 2, 2027"),
    ],
)
def test_format_day_range(locale: str, first: date, last: date, expected: str) -> None:
    assert format_day_range(first, last, locale) == expected


def test_dates_in_an_unknown_locale() -> None:
    with pytest.raises(InvalidLocaleError):
        format_instant(datetime(2026, 1, 1, tzinfo=UTC), "xx_YY")
    with pytest.raises(InvalidLocaleError):
        format_day_range(date(2026, 1, 1), date(2026, 1, 1), "")


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("de-DE", "de_DE"),
        ("de_CH", "de_CH"),
        ("DE-de", "de_DE"),
        ("zh-TW", "zh_Hant_TW"),
        ("de-XX", None),
        ("xx", None),
        ("", None),
        ("not a locale", None),
    ],
)
def test_find_locale(tag: str, expected: str | None) -> None:
    assert find_locale(tag) == expected
