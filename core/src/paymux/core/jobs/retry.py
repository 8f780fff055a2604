"""Retry policies per job kind: exponential back-off with full jitter and a last attempt.

The delay before attempt ``n + 1`` after ``n`` failures is drawn uniformly from
``[0, min(cap, base * 2 ** (n - 1))]`` ("full jitter"), so workers that failed together do not
retry together. A provider that said when to come back (``Retry-After``) is believed, up to
the cap.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently one kind of job is retried."""

    max_attempts: int = 8
    """Failed attempts before the job is dead-lettered."""
    base_seconds: float = 1.0
    """The back-off after the first failure is at most this."""
    cap_seconds: float = 300.0
    """No back-off is longer than this."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_seconds <= 0 or self.cap_seconds < self.base_seconds:
            raise ValueError("need 0 < base_seconds <= cap_seconds")

    def exhausted(self, failures: int) -> bool:
        """Whether a job that failed ``failures`` times is done trying."""
        return failures >= self.max_attempts

    def delay(
        self,
        failures: int,
        *,
        retry_after: float | None = None,
        rng: random.Random | None = None,
    ) -> float:
        """Seconds to wait after the ``failures``-th failure (full jitter, capped)."""
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self.cap_seconds)
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** max(failures - 1, 0))
        return (rng or random).uniform(0, ceiling)


DEFAULT_POLICIES: Mapping[str, RetryPolicy] = {
    "register_payment": RetryPolicy(max_attempts=8, base_seconds=2.0, cap_seconds=300.0),
    "check_payment": RetryPolicy(max_attempts=10, base_seconds=30.0, cap_seconds=3600.0),
    "notify_buyer": RetryPolicy(max_attempts=12, base_seconds=30.0, cap_seconds=3600.0),
    "submit_refund": RetryPolicy(max_attempts=10, base_seconds=5.0, cap_seconds=1800.0),
    "submit_payout": RetryPolicy(max_attempts=10, base_seconds=5.0, cap_seconds=1800.0),
    "refund_late_payment": RetryPolicy(max_attempts=10, base_seconds=30.0, cap_seconds=3600.0),
    "send_reconciliation_alert": RetryPolicy(
        max_attempts=12, base_seconds=30.0, cap_seconds=3600.0
    ),
    "reconcile_nightly": RetryPolicy(max_attempts=12, base_seconds=60.0, cap_seconds=3600.0),
    "reconcile_announced_report": RetryPolicy(
        max_attempts=12, base_seconds=60.0, cap_seconds=3600.0
    ),
}
"""paymux's defaults per job kind; ``PAYMUX_JOB_RETRY`` overrides them (see settings)."""


def policy_for(kind: str, overrides: Mapping[str, RetryPolicy]) -> RetryPolicy:
    """The policy of ``kind``: the settings', else paymux's default, else the generic one."""
    return overrides.get(kind) or DEFAULT_POLICIES.get(kind) or RetryPolicy()
