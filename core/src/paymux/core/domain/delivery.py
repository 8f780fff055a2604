"""An order's estimated delivery: one day, or a range of days (both ends included).

Written as an ISO 8601 calendar date (``2026-12-01``) or an ISO 8601 interval of two dates
(``2026-12-01/2026-12-03``). The shop knows its carriers: paymux only stores the estimate and
passes it to buyer notifications.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

DELIVERY_PATTERN = r"^\d{4}-\d{2}-\d{2}(?:/\d{4}-\d{2}-\d{2})?$"
"""The shape of an estimate as text (the dates themselves are checked when parsed)."""

_DELIVERY = re.compile(DELIVERY_PATTERN, re.ASCII)


class InvalidDeliveryEstimateError(ValueError):
    """Text that is not a delivery estimate."""


@dataclass(frozen=True, slots=True)
class DeliveryEstimate:
    """The buyer gets the order between ``earliest`` and ``latest`` (the same day for one
    date)."""

    earliest: date
    latest: date

    def __post_init__(self) -> None:
        if self.latest < self.earliest:
            raise InvalidDeliveryEstimateError(
                "the end of an estimated delivery range is before its start"
            )

    @property
    def is_single_day(self) -> bool:
        """The estimate names one day."""
        return self.earliest == self.latest

    @classmethod
    def parse(cls, text: str) -> DeliveryEstimate:
        """``2026-12-01`` or ``2026-12-01/2026-12-03``; raises
        :class:`InvalidDeliveryEstimateError`."""
        if not _DELIVERY.fullmatch(text):
            raise InvalidDeliveryEstimateError(
                "must be a date (YYYY-MM-DD) or a range of two dates (YYYY-MM-DD/YYYY-MM-DD)"
            )
        start, separator, end = text.partition("/")
        try:
            earliest = date.fromisoformat(start)
            latest = date.fromisoformat(end) if separator else earliest
        except ValueError:
            raise InvalidDeliveryEstimateError(
                f"{text!r} names a day that does not exist"
            ) from None
        return cls(earliest, latest)

    def __str__(self) -> str:
        if self.is_single_day:
            return self.earliest.isoformat()
        return f"{self.earliest.isoformat()}/{self.latest.isoformat()}"
