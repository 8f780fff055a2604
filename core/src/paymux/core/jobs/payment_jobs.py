"""paymux's own job handlers: registration, the janitor's checks, the buyer's confirmation,
refund and payout submissions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from paymux.core.domain.errors import RefundsNotSupportedError
from paymux.core.domain.jobs import Done, GiveUp, Job, JobKind, JobOutcome, RunAgainAt
from paymux.core.domain.models import PaymentEvent
from paymux.core.domain.refunds import RefundStatus
from paymux.core.identifiers import utc_now
from paymux.core.jobs.notify_buyer import notify_buyer_handler
from paymux.core.jobs.worker import JobHandler
from paymux.core.notifications import BuyerNotifier
from paymux.core.services.payments import PaymentService
from paymux.core.services.payouts import PayoutService
from paymux.core.services.refunds import RefundService

JANITOR_EXPIRED = "janitor-expired"
"""The failure code of a payment the janitor expired after its last check."""


def payment_job_handlers(
    payments: PaymentService,
    *,
    notifiers: Sequence[BuyerNotifier] = (),
    status_page_url: Callable[[PaymentEvent], str] | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> dict[str, JobHandler]:
    """The handlers of :class:`~paymux.core.domain.jobs.JobKind`'s kinds; ``notifiers``
    confirm succeeded payments to buyers (see :mod:`paymux.core.jobs.notify_buyer`)."""

    async def register(job: Job) -> JobOutcome:
        payment = await payments.complete_registration(str(job.payload["payment_id"]))
        return Done(f"payment {payment.id} is {payment.status.value}")

    async def check(job: Job) -> JobOutcome:
        payment_id = str(job.payload["payment_id"])
        result = await payments.check_payment(payment_id)
        if result.settled:
            return Done(f"payment {payment_id} is {result.payment.status.value}")
        delays = payments.janitor_delays(result.payment)
        checks = int(job.payload.get("check", 0)) + 1
        if checks >= len(delays):
            expired = await payments.expire_payment(payment_id, reason=JANITOR_EXPIRED)
            return Done(f"expired after {checks} checks ({expired.status.value})")
        return RunAgainAt(
            at=clock() + timedelta(seconds=delays[checks]),
            note=f"check {checks} of {len(delays)}: still {result.payment.status.value}",
            payload={**job.payload, "check": checks},
        )

    return {
        JobKind.REGISTER_PAYMENT.value: register,
        JobKind.CHECK_PAYMENT.value: check,
        JobKind.NOTIFY_BUYER.value: notify_buyer_handler(
            payments, notifiers, status_page_url=status_page_url
        ),
    }


def refund_job_handlers(refunds: RefundService) -> dict[str, JobHandler]:
    """The handlers of ``submit_refund`` and ``refund_late_payment`` jobs."""

    async def submit(job: Job) -> JobOutcome:
        refund = await refunds.complete_refund(str(job.payload["refund_id"]))
        return Done(f"refund {refund.id} is {refund.status.value}")

    async def refund_late(job: Job) -> JobOutcome:
        try:
            refund = await refunds.refund_late_payment(str(job.payload["payment_id"]))
        except RefundsNotSupportedError as error:
            return GiveUp(str(error))
        if refund.status is RefundStatus.FAILED:
            return GiveUp(
                f"the provider refused to refund the late payment ({refund.failure_code}); "
                f"the money stays booked as owed to the buyer (refund {refund.id})"
            )
        return Done(f"late refund {refund.id} is {refund.status.value}")

    return {
        JobKind.SUBMIT_REFUND.value: submit,
        JobKind.REFUND_LATE_PAYMENT.value: refund_late,
    }


def payout_job_handlers(payouts: PayoutService) -> dict[str, JobHandler]:
    """The handler of ``submit_payout`` jobs."""

    async def submit(job: Job) -> JobOutcome:
        payout = await payouts.complete_payout(str(job.payload["payout_id"]))
        return Done(f"payout {payout.id} is {payout.status.value}")

    return {JobKind.SUBMIT_PAYOUT.value: submit}
