"""The ``notify_buyer`` job: the buyer's confirmation, through every installed notifier.

One job per succeeded payment (queued in the transaction that made it succeed). Each run
sends to the notifiers that have not delivered yet and remembers, in the job's payload
(``delivered``), those that have: a retry after one notifier failed never sends twice
through another. Failures never touch the payment, which stays succeeded.

- every notifier delivered (or none is installed, or the buyer gave no e-mail): done;
- a notifier failed for a while (any exception): retried with the ``notify_buyer`` back-off,
  dead-lettered after the last attempt;
- a notifier rejected it for good (:class:`~paymux.core.notifications.NotificationRejectedError`)
  and no other failure is left to retry: dead-lettered now, with the reason; a replay sends
  again through the notifiers that did not deliver.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from paymux.core.domain.jobs import Done, GiveUp, Job, JobOutcome, Retry
from paymux.core.domain.models import PaymentEvent
from paymux.core.jobs.worker import JobHandler
from paymux.core.notifications import BuyerNotifier, PaymentSucceededNotification, deliver
from paymux.core.services.payments import PaymentService

log = logging.getLogger(__name__)

DELIVERED = "delivered"
"""The payload key listing the names of the notifiers that delivered."""


def notify_buyer_handler(
    payments: PaymentService,
    notifiers: Sequence[BuyerNotifier],
    *,
    status_page_url: Callable[[PaymentEvent], str] | None = None,
) -> JobHandler:
    """The handler of ``notify_buyer`` jobs; ``status_page_url`` gives a payment's signed
    status page for the message."""

    async def notify(job: Job) -> JobOutcome:
        payment_id = str(job.payload["payment_id"])
        if not notifiers:
            log.info("payment %s succeeded; no buyer notifier is installed", payment_id)
            return Done("no buyer notifier installed")
        payment = await payments.get_payment(payment_id, client_id=None)
        notification = PaymentSucceededNotification.of(
            payment, status_page_url=status_page_url(payment) if status_page_url else None
        )
        if notification is None:
            log.info("payment %s succeeded; the buyer gave no e-mail, nothing sent", payment_id)
            return Done("no buyer e-mail")
        already = [str(name) for name in job.payload.get(DELIVERED, ())]
        report = await deliver(notification, notifiers, already_delivered=already)
        payload = {**job.payload, DELIVERED: list(report.delivered)}
        for name, reason in {**report.failed, **report.rejected}.items():
            log.warning("notifier %s did not notify the buyer of %s: %s", name, payment_id, reason)
        if report.failed:
            return Retry(report.reason(), payload=payload)
        if report.rejected:
            return GiveUp(f"rejected for good: {report.reason()}", payload=payload)
        log.info("payment %s: buyer notified (%s)", payment_id, ", ".join(report.delivered))
        return Done(f"notified by {', '.join(report.delivered)}")

    return notify
