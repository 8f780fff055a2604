"""The Money value type: construction, views, arithmetic and refusals."""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paymux.currencies import (
    CurrencyMismatchError,
    InvalidAmountError,
    Money,
    MoneyError,
    UnknownCurrencyError,
    WithdrawnCurrencyError,
)
from paymux.currencies.parsing import MAX_MINOR_UNITS

# -- construction -----------------------------------------------------------


def test_constructor_and_aliases() -> None:
    assert Money(1230, "EUR").minor == 1230
    assert Money(1230, "EUR").currency == "EUR"
    assert Money.of_minor(1230, "EUR") == Money(1230, "EUR")
    assert Money.zero("JPY") == Money(0, "JPY")
    assert Money.parse("12.3", "EUR") == Money(1230, "EUR")


@pytest.mark.parametrize("minor", [12.5, 12.0, Decimal("12"), "1230", True, False, None])
def test_minor_must_be_a_real_int(minor: object) -> None:
    with pytest.raises(TypeError, match=r"Money\.minor must be an int"):
        Money(minor, "EUR")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("currency", "fragment"),
    [
        ("eur", "upper-case"),
        ("ZZZ", "not in the ISO 4217 table"),
        ("XAU", "no minor unit"),
        ("XXX", "no minor unit"),
        ("", "three upper-case letters"),
    ],
)
def test_currency_must_be_known_with_a_minor_unit(currency: str, fragment: str) -> None:
    with pytest.raises(UnknownCurrencyError, match=fragment):
        Money(100, currency)


def test_withdrawn_currency_is_representable_but_not_parseable() -> None:
    kuna = Money(1999, "HRK")
    assert kuna.amount_str == "19.99"
    assert str(kuna) == "19.99 HRK"
    assert Money.from_decimal(Decimal("19.99"), "HRK") == kuna
    with pytest.raises(WithdrawnCurrencyError):
        Money.parse("19.99", "HRK")


def test_parse_is_strict() -> None:
    with pytest.raises(InvalidAmountError, match="not a JSON number"):
        Money.parse(10.5, "EUR")
    with pytest.raises(InvalidAmountError, match="3 decimal places but USD allows at most 2"):
        Money.parse("10.001", "USD")
    with pytest.raises(InvalidAmountError, match="exponent notation"):
        Money.parse("1e2", "USD")


@pytest.mark.parametrize(
    ("value", "currency", "minor"),
    [
        (Decimal("12.3"), "EUR", 1230),
        (Decimal("12.30"), "EUR", 1230),
        (Decimal("12.300"), "EUR", 1230),  # trailing zeros are not extra precision
        (Decimal("-0.05"), "EUR", -5),
        (Decimal("0"), "EUR", 0),
        (Decimal("-0.000"), "EUR", 0),
        (Decimal("0E+100"), "EUR", 0),
        (Decimal("1500"), "JPY", 1500),
        (Decimal("1.5E+3"), "JPY", 1500),
        (Decimal("1.234"), "KWD", 1234),
        (Decimal("0.0001"), "CLF", 1),
        (Decimal("1" * 35 + ".12"), "USD", int("1" * 35 + "12")),
    ],
)
def test_from_decimal_is_exact(value: Decimal, currency: str, minor: int) -> None:
    assert Money.from_decimal(value, currency) == Money(minor, currency)


@pytest.mark.parametrize(
    ("value", "currency", "message"),
    [
        (
            Decimal("10.001"),
            "USD",
            "Decimal('10.001') has 3 decimal places but USD allows at most 2",
        ),
        (
            Decimal("1.5"),
            "JPY",
            "Decimal('1.5') has 1 decimal place but JPY allows no decimal places",
        ),
        (Decimal("1E-7"), "KWD", "Decimal('1E-7') has 7 decimal places but KWD allows at most 3"),
        (Decimal("NaN"), "USD", "NaN is not an amount"),
        (Decimal("sNaN"), "USD", "NaN is not an amount"),
        (Decimal("-Infinity"), "USD", "Infinity is not an amount"),
        (Decimal("1E+40"), "USD", "too large"),
    ],
)
def test_from_decimal_refuses_inexact_or_non_finite(
    value: Decimal, currency: str, message: str
) -> None:
    with pytest.raises(InvalidAmountError) as info:
        Money.from_decimal(value, currency)
    assert message in str(info.value)


@pytest.mark.parametrize("value", [12.3, 12, "12.30", None])
def test_from_decimal_refuses_non_decimals(value: object) -> None:
    with pytest.raises(TypeError, match=r"needs a decimal\.Decimal"):
        Money.from_decimal(value, "EUR")  # type: ignore[arg-type]


# -- views --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("money", "amount", "exponent"),
    [
        (Money(1230, "EUR"), "12.30", 2),
        (Money(1500, "JPY"), "1500", 0),
        (Money(1234, "KWD"), "1.234", 3),
        (Money(-5, "EUR"), "-0.05", 2),
        (Money(0, "EUR"), "0.00", 2),
        (Money(7, "CLF"), "0.0007", 4),
    ],
)
def test_views(money: Money, amount: str, exponent: int) -> None:
    assert money.exponent == exponent
    assert money.amount_str == amount
    assert str(money) == f"{amount} {money.currency}"
    as_decimal = money.to_decimal()
    assert isinstance(as_decimal, Decimal)
    assert str(as_decimal) == amount
    assert as_decimal.as_tuple().exponent == -exponent


def test_sign_predicates() -> None:
    assert Money(0, "EUR").is_zero
    assert not Money(0, "EUR").is_positive
    assert not Money(0, "EUR").is_negative
    assert Money(1, "EUR").is_positive
    assert not Money(1, "EUR").is_zero
    assert Money(-1, "EUR").is_negative
    assert not Money(-1, "EUR").is_positive


def test_money_is_immutable_hashable_and_slotted() -> None:
    money = Money(100, "EUR")
    with pytest.raises(dataclasses.FrozenInstanceError):
        money.minor = 200  # type: ignore[misc]
    assert not hasattr(money, "__dict__")
    assert {Money(100, "EUR"), Money(100, "EUR"), Money(100, "USD")} == {
        Money(100, "EUR"),
        Money(100, "USD"),
    }


# -- arithmetic ---------------------------------------------------------------


def test_add_subtract_negate_abs() -> None:
    assert Money(1050, "EUR") + Money(250, "EUR") == Money(1300, "EUR")
    assert Money(1050, "EUR") - Money(2050, "EUR") == Money(-1000, "EUR")
    assert -Money(5, "EUR") == Money(-5, "EUR")
    assert abs(Money(-5, "EUR")) == Money(5, "EUR")
    assert abs(Money(5, "EUR")) == Money(5, "EUR")


def test_multiply_by_int_either_side() -> None:
    assert Money(333, "EUR") * 3 == Money(999, "EUR")
    assert 3 * Money(333, "EUR") == Money(999, "EUR")
    assert Money(333, "EUR") * -1 == Money(-333, "EUR")
    assert Money(333, "EUR") * 0 == Money(0, "EUR")


@pytest.mark.parametrize("factor", [1.5, 2.0, Decimal("2"), True, "2"])
def test_multiply_refuses_non_ints(factor: object) -> None:
    money = Money(100, "EUR")
    with pytest.raises(TypeError, match="only be multiplied by an int"):
        operator.mul(money, factor)
    with pytest.raises(TypeError):
        operator.mul(factor, money)


@pytest.mark.parametrize("other", [1, 1.0, Decimal("1.00"), "1.00", None])
@pytest.mark.parametrize("op", [operator.add, operator.sub])
def test_add_subtract_refuse_numbers(op: Callable[[object, object], object], other: object) -> None:
    money = Money(100, "EUR")
    with pytest.raises(TypeError):
        op(money, other)
    with pytest.raises(TypeError):
        op(other, money)


@pytest.mark.parametrize("op", [operator.add, operator.sub])
def test_add_subtract_refuse_mixed_currencies(op: Callable[[Money, Money], Money]) -> None:
    with pytest.raises(CurrencyMismatchError, match="EUR and USD: currencies differ"):
        op(Money(100, "EUR"), Money(100, "USD"))


def test_no_float_and_no_division() -> None:
    money = Money(100, "EUR")
    assert not hasattr(Money, "__float__")
    assert not hasattr(Money, "__truediv__")
    with pytest.raises(TypeError):
        float(money)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        money / 2  # type: ignore[operator]
    with pytest.raises(TypeError):
        money // 2  # type: ignore[operator]


# -- comparison -----------------------------------------------------------------


def test_ordering_within_one_currency() -> None:
    small, big = Money(100, "EUR"), Money(200, "EUR")
    assert small < big
    assert small <= big
    assert small <= Money(100, "EUR")
    assert big > small
    assert big >= small
    assert not big < small
    assert max(small, big) == big
    assert sorted([big, small]) == [small, big]


@pytest.mark.parametrize("op", [operator.lt, operator.le, operator.gt, operator.ge])
def test_ordering_refuses_mixed_currencies(op: Callable[[Money, Money], bool]) -> None:
    with pytest.raises(CurrencyMismatchError, match="cannot compare EUR and USD"):
        op(Money(100, "EUR"), Money(100, "USD"))


@pytest.mark.parametrize("op", [operator.lt, operator.le, operator.gt, operator.ge])
def test_ordering_refuses_numbers(op: Callable[[object, object], bool]) -> None:
    with pytest.raises(TypeError):
        op(Money(100, "EUR"), 100)


def test_equality_is_dataclass_equality() -> None:
    assert Money(100, "EUR") == Money(100, "EUR")
    assert Money(100, "EUR") != Money(100, "USD")
    assert Money(100, "EUR") != Money(101, "EUR")
    assert not operator.eq(Money(100, "EUR"), 100)
    assert not operator.eq(Money(0, "EUR"), 0)


def test_mismatch_error_is_a_money_error() -> None:
    assert issubclass(CurrencyMismatchError, MoneyError)
    assert CurrencyMismatchError.code == "currency-mismatch"
    assert InvalidAmountError.code == "invalid-amount"


# -- sum ------------------------------------------------------------------------


def test_sum() -> None:
    items = [Money(100, "EUR"), Money(250, "EUR"), Money(-50, "EUR")]
    assert Money.sum(items, "EUR") == Money(300, "EUR")
    assert Money.sum(iter(items), "EUR") == Money(300, "EUR")
    assert Money.sum([], "JPY") == Money(0, "JPY")


def test_sum_refusals() -> None:
    with pytest.raises(CurrencyMismatchError, match="cannot sum USD into a EUR total"):
        Money.sum([Money(100, "EUR"), Money(100, "USD")], "EUR")
    with pytest.raises(CurrencyMismatchError):
        Money.sum([Money(100, "USD")], "EUR")
    with pytest.raises(TypeError, match="needs Money items"):
        Money.sum([Money(100, "EUR"), 5], "EUR")  # type: ignore[list-item]
    with pytest.raises(UnknownCurrencyError):
        Money.sum([], "eur")


# -- properties -------------------------------------------------------------------

_MINOR = st.integers(min_value=-(10**24), max_value=10**24)


@given(a=_MINOR, b=_MINOR)
def test_add_and_subtract_are_exact_inverses(a: int, b: int) -> None:
    x, y = Money(a, "EUR"), Money(b, "EUR")
    assert (x + y) - y == x
    assert x + y == y + x
    assert (x < y) == (a < b)


@given(minor=_MINOR, currency=st.sampled_from(["EUR", "JPY", "KWD", "CLF"]))
def test_decimal_round_trip(minor: int, currency: str) -> None:
    money = Money(minor, currency)
    assert Money.from_decimal(money.to_decimal(), currency) == money
    if abs(minor) <= MAX_MINOR_UNITS:
        assert Money.parse(money.amount_str, currency) == money
    else:
        with pytest.raises(InvalidAmountError, match="too large"):
            Money.parse(money.amount_str, currency)
