"""Circuit breaking per provider, so a failing PSP gets a rest instead of a pile of retries.

A breaker counts consecutive failures of one provider (timeouts, resets, 5xx, 429: the errors
a plugin classifies as retryable). At ``threshold`` it *opens*: for ``open_seconds`` the router
skips that provider (new payments fail over to the next provider of the market's chain) and
workers put its jobs back without spending an attempt. Then it is *half-open*: one call may
try; a success closes it, a failure opens it again. The state lives in the process: each
worker and API instance learns on its own, which is enough to stop the pile-up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from paymux.core.identifiers import utc_now


class CircuitState(StrEnum):
    """A breaker's state."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(slots=True)
class _Circuit:
    failures: int = 0
    opened_at: datetime | None = None
    trial_taken: bool = False


class CircuitBreakers:
    """One breaker per provider name."""

    def __init__(
        self,
        *,
        threshold: int = 5,
        open_seconds: float = 30.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if threshold < 1 or open_seconds <= 0:
            raise ValueError("need threshold >= 1 and open_seconds > 0")
        self._threshold = threshold
        self._open_for = timedelta(seconds=open_seconds)
        self._clock = clock
        self._circuits: dict[str, _Circuit] = {}

    def state(self, provider: str) -> CircuitState:
        """Where the breaker of ``provider`` stands now."""
        circuit = self._circuits.get(provider)
        if circuit is None or circuit.opened_at is None:
            return CircuitState.CLOSED
        if self._clock() - circuit.opened_at < self._open_for:
            return CircuitState.OPEN
        return CircuitState.HALF_OPEN

    def reopens_at(self, provider: str) -> datetime | None:
        """When an open breaker lets a trial call through (``None`` unless open)."""
        circuit = self._circuits.get(provider)
        if circuit is None or circuit.opened_at is None:
            return None
        return circuit.opened_at + self._open_for

    def allow(self, provider: str) -> bool:
        """Whether a call to ``provider`` may go now (takes the half-open trial)."""
        state = self.state(provider)
        if state is CircuitState.CLOSED:
            return True
        if state is CircuitState.OPEN:
            return False
        circuit = self._circuits[provider]
        if circuit.trial_taken:
            return False
        circuit.trial_taken = True
        return True

    def unavailable_reason(self, provider: str) -> str | None:
        """For the router's ``availability``: why ``provider`` is skipped, or ``None``."""
        if self.state(provider) is CircuitState.OPEN:
            return f"circuit open after {self._threshold} failures in a row"
        return None

    def record_success(self, provider: str) -> None:
        """A call went through: the breaker closes."""
        self._circuits.pop(provider, None)

    def record_failure(self, provider: str) -> None:
        """A retryable failure: counts toward opening (or reopens a half-open breaker)."""
        circuit = self._circuits.setdefault(provider, _Circuit())
        circuit.failures += 1
        trial_failed = (
            circuit.opened_at is not None and self.state(provider) is CircuitState.HALF_OPEN
        )
        too_many = circuit.opened_at is None and circuit.failures >= self._threshold
        if trial_failed or too_many:
            circuit.opened_at = self._clock()
            circuit.trial_taken = False
