"""A market's commission and logistics-fee rules, and how they fill in an order's fees.

The commission is a percentage of the order amount, computed exactly on minor units (a
rational number, never a float) and rounded **half up** to the currency's minor unit
(``0.5`` minor units round away from zero), then raised to ``minimum`` and lowered to
``maximum`` when they are set. The logistics fee is a fixed amount per order.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from paymux.currencies import Money


def round_half_up(value: Fraction) -> int:
    """``value`` rounded to the nearest integer, halves away from zero."""
    magnitude = abs(value)
    rounded = (magnitude.numerator * 2 + magnitude.denominator) // (magnitude.denominator * 2)
    return -rounded if value < 0 else rounded


@dataclass(frozen=True, slots=True)
class CommissionRule:
    """``percent`` of each order amount, within ``minimum`` and ``maximum`` when set."""

    percent: str
    """The percentage as written in the file (``"12.5"``)."""
    rate: Fraction
    """``percent / 100``, exact."""
    minimum: Money | None = None
    maximum: Money | None = None

    def commission_for(self, amount: Money) -> Money:
        """The commission on an order of ``amount`` (in the rule's currency)."""
        commission = Money(round_half_up(amount.minor * self.rate), amount.currency)
        if self.minimum is not None and commission < self.minimum:
            commission = self.minimum
        if self.maximum is not None and commission > self.maximum:
            commission = self.maximum
        return commission


@dataclass(frozen=True, slots=True)
class MarketFees:
    """The fee rules of one market and currency; either may be absent (then zero)."""

    commission: CommissionRule | None = None
    logistics_fee: Money | None = None

    def fees_for(
        self, amount: Money, *, commission: Money | None, logistics_fee: Money | None
    ) -> tuple[Money, Money]:
        """An order's ``(commission, logistics_fee)``: the client's value when it sent one,
        else this market's rule, else zero."""
        if commission is None:
            commission = (
                self.commission.commission_for(amount)
                if self.commission is not None
                else Money.zero(amount.currency)
            )
        if logistics_fee is None:
            logistics_fee = (
                self.logistics_fee
                if self.logistics_fee is not None
                else Money.zero(amount.currency)
            )
        return commission, logistics_fee


NO_FEES = MarketFees()
"""No rule: an order's omitted commission and logistics fee are zero."""
