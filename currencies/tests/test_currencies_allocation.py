"""Allocation by ratios and even splits: exact, deterministic, fair to one unit."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paymux.currencies import (
    AllocationError,
    Currency,
    Money,
    active_currencies,
    allocate,
    split_evenly,
)


def _minor(parts: list[Money]) -> list[int]:
    return [part.minor for part in parts]


@pytest.mark.parametrize(
    ("total", "ratios", "expected"),
    [
        (Money(100, "EUR"), [1, 1, 1], [34, 33, 33]),
        (Money(-100, "EUR"), [1, 1, 1], [-34, -33, -33]),
        (Money(100, "EUR"), [0, 1], [0, 100]),
        (Money(100, "EUR"), [1, 0], [100, 0]),
        (Money(100, "EUR"), [0, 1, 0, 1], [0, 50, 0, 50]),
        (Money(5, "EUR"), [1, 1, 1, 1], [2, 1, 1, 1]),
        (Money(2, "EUR"), [1, 1, 1], [1, 1, 0]),
        (Money(1000, "JPY"), [1, 2], [333, 667]),  # larger remainder wins, not index
        (Money(10, "EUR"), [3, 7, 1], [3, 6, 1]),
        (Money(-10, "EUR"), [3, 7, 1], [-3, -6, -1]),
        (Money(0, "EUR"), [1, 2, 3], [0, 0, 0]),
        (Money(1, "KWD"), [1, 1], [1, 0]),
        (Money(999, "USD"), [7], [999]),
        (Money(10000, "USD"), [70, 20, 10], [7000, 2000, 1000]),
    ],
)
def test_allocate_examples(total: Money, ratios: list[int], expected: list[int]) -> None:
    parts = allocate(total, ratios)
    assert _minor(parts) == expected
    assert all(part.currency == total.currency for part in parts)
    assert Money.sum(parts, total.currency) == total


def test_allocate_accepts_any_sequence() -> None:
    assert _minor(allocate(Money(100, "EUR"), (1, 1))) == [50, 50]
    assert _minor(allocate(Money(100, "EUR"), range(1, 3))) == [33, 67]


@pytest.mark.parametrize(
    ("ratios", "message"),
    [
        ([], "at least one ratio is required"),
        ([0, 0], "must not all be zero"),
        ([1, -1], "ratio 1 is -1; ratios must not be negative"),
        ([1, 0.5], "ratio 1 is 0.5 (float); ratios must be non-negative integers"),
        ([True, 1], "ratio 0 is True (bool)"),
        (["1", "2"], "ratio 0 is '1' (str)"),
        ("12", "not a string"),
    ],
)
def test_allocate_rejects_bad_ratios(ratios: object, message: str) -> None:
    with pytest.raises(AllocationError) as info:
        allocate(Money(100, "EUR"), ratios)  # type: ignore[arg-type]
    assert message in str(info.value)
    assert info.value.code == "invalid-allocation"


def test_allocate_requires_money() -> None:
    with pytest.raises(TypeError, match="needs a Money total"):
        allocate(100, [1, 1])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("total", "parts", "expected"),
    [
        (Money(100, "EUR"), 3, [34, 33, 33]),
        (Money(-100, "EUR"), 3, [-34, -33, -33]),
        (Money(101, "EUR"), 4, [26, 25, 25, 25]),
        (Money(7, "JPY"), 7, [1] * 7),
        (Money(2, "EUR"), 4, [1, 1, 0, 0]),
        (Money(100, "EUR"), 1, [100]),
    ],
)
def test_split_evenly_examples(total: Money, parts: int, expected: list[int]) -> None:
    assert _minor(split_evenly(total, parts)) == expected


@pytest.mark.parametrize(
    ("parts", "message"),
    [(0, "at least 1"), (-2, "at least 1"), (True, "integer"), (2.0, "integer")],
)
def test_split_evenly_rejects_bad_part_counts(parts: object, message: str) -> None:
    with pytest.raises(AllocationError, match=message):
        split_evenly(Money(100, "EUR"), parts)  # type: ignore[arg-type]


_TOTAL = st.integers(min_value=-(10**15), max_value=10**15)


@given(
    minor=_TOTAL,
    currency=st.sampled_from(active_currencies()),
    ratios=st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=12).filter(any),
)
def test_allocate_is_exact_and_fair(minor: int, currency: Currency, ratios: list[int]) -> None:
    total = Money(minor, currency.code)
    parts = allocate(total, ratios)
    assert len(parts) == len(ratios)
    assert sum(part.minor for part in parts) == minor
    weight = sum(ratios)
    for part, ratio in zip(parts, ratios, strict=True):
        exact_share = Fraction(minor * ratio, weight)
        assert abs(part.minor - exact_share) < 1
        if ratio == 0:
            assert part.is_zero
    assert allocate(total, ratios) == parts  # deterministic
    assert allocate(-total, ratios) == [-part for part in parts]  # symmetric


@given(minor=_TOTAL, parts=st.integers(min_value=1, max_value=50))
def test_split_evenly_parts_differ_by_at_most_one(minor: int, parts: int) -> None:
    split = _minor(split_evenly(Money(minor, "EUR"), parts))
    assert len(split) == parts
    assert sum(split) == minor
    assert max(split) - min(split) <= 1
    magnitudes = [abs(m) for m in split]
    assert magnitudes == sorted(magnitudes, reverse=True)  # extra units go first
