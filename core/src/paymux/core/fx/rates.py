"""Exchange rates and the sources that give them (``paymux_add_rate_sources``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol, runtime_checkable

from paymux.currencies import get_currency

RATE_DIGITS = 12
"""Significant digits a derived (cross or inverse) rate is rounded to, half to even."""


class RateUnavailableError(Exception):
    """The source has no (fresh enough) rate for this pair."""


@dataclass(frozen=True, slots=True)
class Rate:
    """``1 base = value quote``, in major units, as published by ``source`` for ``as_of``."""

    base: str
    quote: str
    value: Decimal
    source: str
    as_of: date

    def __post_init__(self) -> None:
        if not isinstance(self.value, Decimal):
            raise TypeError(f"a rate is a decimal.Decimal, not {type(self.value).__name__}")
        if not self.value.is_finite() or self.value <= 0:
            raise ValueError(f"a rate must be a positive finite number, not {self.value}")
        get_currency(self.base)
        get_currency(self.quote)
        if self.base == self.quote and self.value != 1:
            raise ValueError(f"{self.base} to itself is 1, not {self.value}")


@runtime_checkable
class RateSource(Protocol):
    """Where rates come from: a reference publisher (the ECB), a PSP's FX API, fixed test rates.

    ``name`` identifies the source in stored quotes. ``rate(base, quote)`` answers the
    latest rate it has (network calls allowed; never inside a database transaction) or
    raises :class:`RateUnavailableError`.
    """

    @property
    def name(self) -> str: ...

    async def rate(self, base: str, quote: str) -> Rate: ...


def round_rate(value: Decimal) -> Decimal:
    """``value`` to :data:`RATE_DIGITS` significant digits, half to even (exact below that)."""
    if value.is_zero():
        return value
    places = RATE_DIGITS - value.adjusted() - 1
    return value.quantize(Decimal(1).scaleb(-places), rounding="ROUND_HALF_EVEN").normalize()


def cross_rate(base_rate: Rate, quote_rate: Rate) -> Rate:
    """``base → quote`` from two rates of one common currency (``EUR → base``, ``EUR → quote``).

    The derived rate is ``quote_rate / base_rate`` rounded by :func:`round_rate`; its date is
    the older of the two.
    """
    if base_rate.base != quote_rate.base:
        raise ValueError("a cross rate needs two rates from the same currency")
    if base_rate.source != quote_rate.source:
        raise ValueError("a cross rate needs two rates from the same source")
    if base_rate.quote == quote_rate.quote:
        return Rate(
            base_rate.quote, quote_rate.quote, Decimal(1), base_rate.source, base_rate.as_of
        )
    return Rate(
        base=base_rate.quote,
        quote=quote_rate.quote,
        value=round_rate(quote_rate.value / base_rate.value),
        source=base_rate.source,
        as_of=min(base_rate.as_of, quote_rate.as_of),
    )
