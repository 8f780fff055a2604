"""Locked quotes and conversion: the one place where an amount changes currency.

A quote locks a rate for a while (``expires_at``). It is stored with the payment or payout
it priced, so the conversion can be repeated and audited. :func:`convert` is the only
rounding step of a conversion: the exact product of amount and rate is rounded once to the
target currency's minor unit, half to even (banker's rounding, so that rounding errors do
not drift one way over many conversions).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from paymux.core.fx.rates import Rate, RateSource, RateUnavailableError
from paymux.currencies import InvalidAmountError, Money, get_currency
from paymux.currencies.parsing import MAX_MINOR_UNITS

ROUNDING = ROUND_HALF_EVEN
"""How :func:`convert` rounds to the target currency's minor unit."""


class QuoteExpiredError(Exception):
    """The quote's lock ran out: ask for a new one."""


@dataclass(frozen=True, slots=True)
class Quote:
    """A rate locked from ``created_at`` until ``expires_at``: ``1 base = rate quote``."""

    base: str
    quote: str
    rate: Decimal
    source: str
    rate_date: date
    created_at: datetime
    expires_at: datetime

    def __post_init__(self) -> None:
        Rate(self.base, self.quote, self.rate, self.source, self.rate_date)  # checks the rate
        if self.expires_at <= self.created_at:
            raise ValueError("a quote expires after it was made")

    def is_valid_at(self, moment: datetime) -> bool:
        """Whether the lock still holds at ``moment``."""
        return self.created_at <= moment < self.expires_at

    def as_dict(self) -> dict[str, str]:
        """The stored form: every value as text (the rate exactly as locked)."""
        return {
            "base": self.base,
            "quote": self.quote,
            "rate": format(self.rate, "f"),
            "source": self.source,
            "rate_date": self.rate_date.isoformat(),
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, stored: dict[str, str]) -> Quote:
        """The quote :meth:`as_dict` stored."""
        return cls(
            base=stored["base"],
            quote=stored["quote"],
            rate=Decimal(stored["rate"]),
            source=stored["source"],
            rate_date=date.fromisoformat(stored["rate_date"]),
            created_at=datetime.fromisoformat(stored["created_at"]),
            expires_at=datetime.fromisoformat(stored["expires_at"]),
        )


def convert(amount: Money, quote: Quote) -> Money:
    """``amount`` (in the quote's base currency) in the quote currency, rounded once.

    The product is exact (enough digits for any amount and rate); it is then rounded to the
    quote currency's exponent with :data:`ROUNDING`. Converting back with the inverse quote
    need not give the original amount: each conversion rounds on its own. A result beyond
    :data:`~paymux.currencies.parsing.MAX_MINOR_UNITS` is an
    :class:`~paymux.currencies.InvalidAmountError` (it could not be stored).
    """
    if amount.currency != quote.base:
        raise ValueError(f"the quote converts {quote.base}, not {amount.currency}")
    exponent = get_currency(quote.quote).exponent
    with localcontext() as context:
        context.prec = 100
        exact = amount.to_decimal() * quote.rate
        rounded = exact.quantize(Decimal(1).scaleb(-exponent), rounding=ROUNDING)
    converted = Money.from_decimal(rounded, quote.quote)
    if abs(converted.minor) > MAX_MINOR_UNITS:
        raise InvalidAmountError(
            f"{amount} is {converted} at the {quote.base}/{quote.quote} rate {quote.rate}: "
            "too large to pay"
        )
    return converted


class Quoter:
    """Locks quotes from a rate source: ``await quoter.lock("JPY", "USD")``."""

    def __init__(
        self,
        source: RateSource,
        *,
        lock_seconds: float = 15 * 60,
        max_rate_age_days: int = 5,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if lock_seconds <= 0:
            raise ValueError("lock_seconds must be positive")
        self._source = source
        self._lock = timedelta(seconds=lock_seconds)
        self._max_age = timedelta(days=max_rate_age_days)
        self._clock = clock

    async def lock(self, base: str, quote: str) -> Quote:
        """A fresh quote for ``base → quote``; :class:`RateUnavailableError` when the source
        has none or its newest is older than ``max_rate_age_days`` (5: Easter's Thursday
        rate still holds on the Tuesday morning after)."""
        rate = await self._source.rate(base, quote)
        now = self._clock()
        if now.date() - rate.as_of > self._max_age:
            raise RateUnavailableError(
                f"{rate.source}'s newest {base}/{quote} rate is from {rate.as_of}: too old"
            )
        return Quote(
            base=rate.base,
            quote=rate.quote,
            rate=rate.value,
            source=rate.source,
            rate_date=rate.as_of,
            created_at=now,
            expires_at=now + self._lock,
        )


def require_valid(quote: Quote, moment: datetime) -> Quote:
    """``quote`` if its lock holds at ``moment``; :class:`QuoteExpiredError` otherwise."""
    if not quote.is_valid_at(moment):
        raise QuoteExpiredError(
            f"the {quote.base}/{quote.quote} quote expired at {quote.expires_at.isoformat()}"
        )
    return quote
