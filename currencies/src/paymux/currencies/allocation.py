"""Splitting an amount into parts that always add up to it exactly."""

from __future__ import annotations

from collections.abc import Sequence

from paymux.currencies.errors import AllocationError
from paymux.currencies.money import Money

__all__ = ["allocate", "split_evenly"]


def allocate(total: Money, ratios: Sequence[int]) -> list[Money]:
    """Split ``total`` in proportion to non-negative integer ``ratios``.

    Uses the largest-remainder method in minor units: every part first gets
    ``floor(|total| * ratio / sum(ratios))``, then the minor units left over go
    one each to the parts with the largest remainders, ties going to the lower
    index. So the parts always add up exactly to ``total``, each part is within
    one minor unit of its exact share, a ratio of 0 always gets zero, and the
    result is deterministic. A negative total is allocated as its absolute
    value and every part negated.

    ``allocate(Money(100, "EUR"), [1, 1, 1])`` gives 0.34, 0.33, 0.33 EUR.

    Raises:
        AllocationError: no ratios, a ratio that is not a non-negative ``int``
            (``bool`` and ``float`` are refused), or all ratios zero.
        TypeError: ``total`` is not a :class:`Money`.
    """
    if not isinstance(total, Money):
        raise TypeError(f"allocate() needs a Money total, not {type(total).__name__}")
    if isinstance(ratios, (str, bytes)):
        raise AllocationError("ratios must be a sequence of non-negative integers, not a string")
    weights = list(ratios)
    if not weights:
        raise AllocationError("at least one ratio is required")
    for index, ratio in enumerate(weights):
        if isinstance(ratio, bool) or not isinstance(ratio, int):
            raise AllocationError(
                f"ratio {index} is {ratio!r} ({type(ratio).__name__}); "
                "ratios must be non-negative integers"
            )
        if ratio < 0:
            raise AllocationError(f"ratio {index} is {ratio}; ratios must not be negative")
    weight_sum = sum(weights)
    if weight_sum == 0:
        raise AllocationError("ratios must not all be zero")

    amount = abs(total.minor)
    shares = [divmod(amount * weight, weight_sum) for weight in weights]
    parts = [base for base, _ in shares]
    leftover = amount - sum(parts)
    # leftover < number of parts with a non-zero remainder, so zero ratios never get one.
    by_remainder = sorted(range(len(weights)), key=lambda i: (-shares[i][1], i))
    for index in by_remainder[:leftover]:
        parts[index] += 1
    sign = -1 if total.minor < 0 else 1
    return [Money(sign * part, total.currency) for part in parts]


def split_evenly(total: Money, parts: int) -> list[Money]:
    """Split ``total`` into ``parts`` amounts that differ by at most one minor unit.

    The first parts get the extra units: ``split_evenly(Money(100, "EUR"), 3)``
    gives 0.34, 0.33, 0.33 EUR (and -0.34, -0.33, -0.33 EUR for a negative
    total).

    Raises:
        AllocationError: ``parts`` is not an ``int`` of at least 1.
        TypeError: ``total`` is not a :class:`Money`.
    """
    if isinstance(parts, bool) or not isinstance(parts, int):
        raise AllocationError(f"parts must be an integer, not {type(parts).__name__}")
    if parts < 1:
        raise AllocationError(f"parts must be at least 1, got {parts}")
    return allocate(total, [1] * parts)
