"""A rate source with fixed rates: for tests, and for platforms that set their own rates."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal

from paymux.core.fx.rates import Rate, RateUnavailableError, round_rate


class FixedRateSource:
    """Rates given up front as ``{"EUR/USD": Decimal("1.0812"), ...}`` (1 EUR = 1.0812 USD).

    The inverse of a given pair is derived (rounded by
    :func:`~paymux.core.fx.rates.round_rate`); other pairs are not. The rates hold for
    ``as_of``, or, without it, for the day they are asked for (they never go stale).
    """

    def __init__(
        self, rates: Mapping[str, Decimal | str], *, name: str = "fixed", as_of: date | None = None
    ) -> None:
        self._name = name
        self._as_of = as_of
        self._rates: dict[tuple[str, str], Decimal] = {}
        for pair, value in rates.items():
            base, slash, quote = pair.partition("/")
            if not slash or not base or not quote:
                raise ValueError(f"a pair is written 'BASE/QUOTE', not {pair!r}")
            rate = Rate(base, quote, Decimal(value), name, self._day())  # checks the value
            self._rates[(base, quote)] = rate.value

    def _day(self) -> date:
        return self._as_of or datetime.now(UTC).date()

    @property
    def name(self) -> str:
        return self._name

    async def rate(self, base: str, quote: str) -> Rate:
        day = self._day()
        if base == quote:
            return Rate(base, quote, Decimal(1), self._name, day)
        if (base, quote) in self._rates:
            return Rate(base, quote, self._rates[(base, quote)], self._name, day)
        if (quote, base) in self._rates:
            inverse = round_rate(1 / self._rates[(quote, base)])
            return Rate(base, quote, inverse, self._name, day)
        raise RateUnavailableError(f"{self._name} has no rate for {base}/{quote}")
