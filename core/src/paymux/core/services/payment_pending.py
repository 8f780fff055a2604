"""What a payment that is not settled is waiting for, and what the caller can do about it.

``GET /v1/payments/{id}`` shows this as ``pending``: a code, a sentence for the integrator,
and when paymux will next act on its own (the registration's retry or the janitor's check).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from paymux.core.domain.jobs import Job, JobState
from paymux.core.domain.models import PaymentEvent
from paymux.core.domain.status import PaymentStatus


class PendingReason(StrEnum):
    """Why a payment is not settled yet."""

    REGISTERING = "registering"
    """paymux is registering the payment with its provider (retried on its own)."""
    OUTCOME_UNKNOWN = "outcome_unknown"
    """A call's answer was lost; paymux asks the provider again (never a new charge)."""
    AWAITING_BUYER = "awaiting_buyer"
    """The buyer has yet to pay on the provider's page (or their transfer to arrive)."""
    NEEDS_ATTENTION = "needs_attention"
    """The work on it failed for good and waits in the dead-letter queue for a replay."""


@dataclass(frozen=True, slots=True)
class PendingWork:
    """What a payment waits for."""

    reason: PendingReason
    detail: str
    next_check_at: datetime | None
    """When paymux next acts on its own (retry or janitor check), if it will."""
    dead_letter_id: str | None = None


def explain_pending(
    payment: PaymentEvent, *, registration_job: Job | None, check_job: Job | None
) -> PendingWork | None:
    """What ``payment`` waits for (``None`` once every order is settled)."""
    if payment.is_settled:
        return None
    registered = payment.registration is not None and payment.registration.token is not None
    if not registered:
        if registration_job is not None and registration_job.state is JobState.DEAD:
            return PendingWork(
                PendingReason.NEEDS_ATTENTION,
                f"{payment.provider} could not be reached after every retry; the registration "
                f"waits in the dead-letter queue: replay it with POST /v1/dead-letters/"
                f"{registration_job.id}/replay once the provider is back.",
                None,
                registration_job.id,
            )
        unknown = payment.status is PaymentStatus.UNKNOWN
        return PendingWork(
            PendingReason.OUTCOME_UNKNOWN if unknown else PendingReason.REGISTERING,
            f"paymux has not yet confirmed the payment with {payment.provider} and retries "
            "on its own with the same idempotency key, so the buyer is never charged twice. "
            "Do not create a new payment; send the same request with the same Idempotency-Key, "
            "or read this payment again, to see the result.",
            _next(registration_job),
        )
    if check_job is not None and check_job.state is JobState.DEAD:
        return PendingWork(
            PendingReason.NEEDS_ATTENTION,
            f"paymux could not ask {payment.provider} where the payment stands after every "
            "retry; its check waits in the dead-letter queue: replay it with POST "
            f"/v1/dead-letters/{check_job.id}/replay once the provider is back (a webhook "
            "may still settle it meanwhile).",
            None,
            check_job.id,
        )
    if payment.status is PaymentStatus.UNKNOWN:
        return PendingWork(
            PendingReason.OUTCOME_UNKNOWN,
            f"{payment.provider}'s answer was lost; paymux asks it again on a schedule and "
            "applies what it says. Nothing to do but wait.",
            _next(check_job),
        )
    waiting_for = (
        "the buyer's bank transfer to arrive (with the reference shown on the payment page)"
        if payment.payment_method == "bank_transfer"
        else "the buyer to complete the payment on the provider's page (redirect_url)"
    )
    return PendingWork(
        PendingReason.AWAITING_BUYER,
        f"Waiting for {waiting_for}. paymux also asks {payment.provider} on a schedule; a "
        "payment still open after the last check expires.",
        _next(check_job),
    )


def _next(job: Job | None) -> datetime | None:
    if job is None or job.state not in (JobState.QUEUED, JobState.RUNNING):
        return None
    return job.next_run_at
