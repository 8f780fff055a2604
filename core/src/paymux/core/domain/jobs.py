"""Durable jobs: provider calls and follow-up work that must happen even if a process dies.

A job is a row in the database (kind, payload, attempts, next run, last error, state). Workers
claim due jobs, run the handler registered for the kind and record what happened. A handler
answers with a :data:`JobOutcome`; an exception it raises is a failure (retried when the
error is retryable, see :mod:`paymux.core.jobs.retry`). A job that keeps failing is
*dead-lettered*: it stays in the table, in state ``dead``, with its reason, until an operator
replays it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class JobState(StrEnum):
    """Where a job stands."""

    QUEUED = "queued"
    """Waiting for ``next_run_at``."""
    RUNNING = "running"
    """Claimed by a worker until ``locked_until`` (after that, any worker may take it)."""
    DONE = "done"
    """Finished; never runs again."""
    DEAD = "dead"
    """Dead-lettered after its last attempt; runs again only when replayed."""


class JobKind(StrEnum):
    """The kinds of work paymux itself queues (plugins may register more)."""

    REGISTER_PAYMENT = "register_payment"
    """Register a payment with its provider (the same PSP idempotency key every time)."""
    CHECK_PAYMENT = "check_payment"
    """The janitor: ask the provider about a payment left ``pending`` or ``unknown``."""
    NOTIFY_BUYER = "notify_buyer"
    """Tell the buyer that the payment succeeded (the notifiers of ``paymux_add_notifiers``)."""
    SUBMIT_REFUND = "submit_refund"
    """Send a refund whose submission's answer was lost (the same PSP idempotency key)."""
    SUBMIT_PAYOUT = "submit_payout"
    """Send a payout whose submission's answer was lost (the same PSP idempotency key)."""
    REFUND_LATE_PAYMENT = "refund_late_payment"
    """Give back money a buyer paid after paymux had expired the payment."""
    SEND_RECONCILIATION_ALERT = "send_reconciliation_alert"
    """Tell operators about a run's new discrepancies (``paymux_add_reconciliation_alerters``)."""
    RECONCILE_NIGHTLY = "reconcile_nightly"
    """Fetch a provider's settlement report of a day and reconcile it (one job per provider
    and day; each queues the next day's)."""
    RECONCILE_ANNOUNCED_REPORT = "reconcile_announced_report"
    """Download a settlement report a provider announced by webhook and reconcile it (one
    job per provider and report, queued in the webhook's transaction)."""


@dataclass(frozen=True, slots=True)
class NewJob:
    """A job to queue.

    ``key`` makes queueing idempotent: a second job with the same key is not queued.
    ``provider`` names the PSP the job calls, for circuit breaking (``None``: no PSP call).
    """

    kind: str
    key: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    provider: str | None = None
    run_at: datetime | None = None
    """When it first becomes due (``None``: now)."""


@dataclass(frozen=True, slots=True)
class Job:
    """A stored job."""

    id: str
    kind: str
    key: str
    payload: Mapping[str, Any]
    provider: str | None
    state: JobState
    attempts: int
    """Failed attempts so far (a lost worker counts as one)."""
    runs: int
    """How many times a worker started it."""
    next_run_at: datetime
    locked_by: str | None
    locked_until: datetime | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    replays: int
    """How many times an operator replayed it from the dead-letter queue."""


@dataclass(frozen=True, slots=True)
class Done:
    """The job's work is complete."""

    note: str | None = None


@dataclass(frozen=True, slots=True)
class RunAgainAt:
    """Not a failure: the job has more to do later (the janitor's next check, say)."""

    at: datetime
    note: str | None = None
    payload: Mapping[str, Any] | None = None
    """A new payload for the next run (``None``: keep it)."""


@dataclass(frozen=True, slots=True)
class Retry:
    """A retryable failure: try again after the back-off (or ``after_seconds`` if the
    provider said when, as in a 429's ``Retry-After``); dead-lettered after the last attempt."""

    reason: str
    after_seconds: float | None = None
    payload: Mapping[str, Any] | None = None
    """A new payload for the next attempt (``None``: keep it), for example what part of the
    work is already done; kept too if this was the last attempt."""


@dataclass(frozen=True, slots=True)
class GiveUp:
    """A failure no retry can fix: dead-letter the job now, with ``reason``."""

    reason: str
    payload: Mapping[str, Any] | None = None
    """A new payload for a replay of the dead letter (``None``: keep it)."""


JobOutcome = Done | RunAgainAt | Retry | GiveUp
"""What a handler answers."""
