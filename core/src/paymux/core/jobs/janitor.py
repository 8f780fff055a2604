"""The janitor's schedule: when to ask a provider again about a payment still open.

A payment left ``pending`` (the buyer has not paid yet, a transfer is on its way) or
``unknown`` (a call's answer was lost) is checked after each delay of its schedule in turn;
after the last one, a payment still open is expired and an event says so. Schedules are per
provider and payment method: the most specific key wins, ``provider/method``, then
``provider``, then ``method``, then ``default``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

MINUTE = 60.0
HOUR = 60 * MINUTE
DAY = 24 * HOUR

DEFAULT_SCHEDULES: Mapping[str, tuple[float, ...]] = {
    "default": (
        2 * MINUTE, 5 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR,
        DAY, DAY,
    ),
    "bank_transfer": (DAY,) * 14,
}  # fmt: skip
"""Cards and wallets: minutes, then hours, two days in all. Bank transfers: daily for two
weeks."""


@dataclass(frozen=True, slots=True)
class JanitorSchedule:
    """Delays (seconds) between the janitor's checks, per provider and method."""

    schedules: Mapping[str, Sequence[float]] = field(default_factory=lambda: DEFAULT_SCHEDULES)

    def __post_init__(self) -> None:
        for key, delays in self.schedules.items():
            if not delays or any(delay <= 0 for delay in delays):
                raise ValueError(f"janitor schedule {key!r} needs positive delays")

    def delays(self, provider: str, method: str) -> Sequence[float]:
        """The delays for a payment through ``provider`` by ``method``."""
        for key in (f"{provider}/{method}", provider, method, "default"):
            if key in self.schedules:
                return self.schedules[key]
        return DEFAULT_SCHEDULES["default"]
