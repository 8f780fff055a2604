"""A rate source with fixed rates: for tests, and for platforms that set their own rates."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from paymux.core.fx.rates import Rate, RateUnavailableError, round_rate


class FixedRateSource:
    """Rates given up front as ``{"EUR/USD": Decimal("1.0812"), ...}`` (1 EUR = 1.0812 USD).

    The inverse of a given pair is derived (rounded by
    :func:`~paymux.core.fx.rates.round_rate`); other pairs are not.
    """

    def __init__(
        self, rates: Mapping[str, Decimal | str], *, name: str = "fixed", as_of: date | None = None
    ) -> None:
        self._name = name
        self._as_of = as_of or date(2000, 1, 1)
        self._rates: dict[tuple[str, str], Decimal] = {}
        for pair, value in rates.items():
            base, slash, quote = pair.partition("/")
            if not slash or not base or not quote:
                raise ValueError(f"a pair is written 'BASE/QUOTE', not {pair!r}")
            rate = Rate(base, quote, Decimal(value), name, self._as_of)  # checks the value
            self._rates[(base, quote)] = rate.value

    @property
    def name(self) -> str:
        return self._name

    async def rate(self, base: str, quote: str) -> Rate:
        if base == quote:
            return Rate(base, quote, Decimal(1), self._name, self._as_of)
        if (base, quote) in self._rates:
            return Rate(base, quote, self._rates[(base, quote)], self._name, self._as_of)
        if (quote, base) in self._rates:
            inverse = round_rate(1 / self._rates[(quote, base)])
            return Rate(base, quote, inverse, self._name, self._as_of)
        raise RateUnavailableError(f"{self._name} has no rate for {base}/{quote}")
