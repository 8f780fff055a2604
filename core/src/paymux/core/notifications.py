"""The buyer-notifier port: telling the buyer that a payment succeeded.

Plugins offer notifiers through the ``paymux_add_notifiers`` hook (an SMTP one ships in
``contrib/smtp``). The ``notify_buyer`` job (:mod:`paymux.core.jobs.notify_buyer`) builds one
:class:`PaymentSucceededNotification` per succeeded payment and hands it to every notifier;
a notifier that fails is asked again later, one that delivered is not.

The buyer's e-mail address is personal data: it is in the notification for the notifier to
use, never in a log line, a job's error or an outbox event (:func:`redact`).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from paymux.core.domain.delivery import DeliveryEstimate
from paymux.core.domain.models import PaymentEvent
from paymux.core.domain.status import PaymentStatus
from paymux.currencies import Money

REDACTED_EMAIL = "<buyer e-mail>"
"""What replaces the buyer's address in errors and logs."""


class NotificationRejectedError(Exception):
    """The destination refused this notification for good (an SMTP ``5xx``, say).

    Sending it again unchanged will not help: the ``notify_buyer`` job is dead-lettered with
    the reason instead of being retried (an operator may replay it once the cause is fixed).
    Any other exception a notifier raises counts as temporary and is retried with back-off.
    """


@dataclass(frozen=True, slots=True)
class OrderLine:
    """One seller's order in the buyer's confirmation."""

    seller_id: str
    reference: str
    """The shop's reference of the order."""
    amount: Money
    estimated_delivery: DeliveryEstimate | None


@dataclass(frozen=True, slots=True)
class PaymentSucceededNotification:
    """What the buyer is told once a payment succeeded."""

    payment_id: str
    buyer_id: str
    buyer_email: str = field(repr=False)
    locale: str | None
    """The buyer's language tag as the shop gave it (``de-DE``), or ``None``."""
    amount: Money
    """What the buyer paid: the sum of :attr:`orders`."""
    orders: tuple[OrderLine, ...]
    status_page_url: str | None = None
    """The buyer's signed status page of this payment, when paymux knows its public URL."""

    @classmethod
    def of(
        cls, payment: PaymentEvent, *, status_page_url: str | None = None
    ) -> PaymentSucceededNotification | None:
        """The confirmation of ``payment``'s succeeded orders; ``None`` when there is nobody
        to tell (no buyer e-mail) or nothing to tell (no order succeeded)."""
        succeeded = [o for o in payment.orders if o.status is PaymentStatus.SUCCEEDED]
        if payment.buyer_email is None or not succeeded:
            return None
        return cls(
            payment_id=payment.id,
            buyer_id=payment.buyer_id,
            buyer_email=payment.buyer_email,
            locale=payment.buyer_locale,
            amount=Money.sum((order.amount for order in succeeded), payment.currency),
            orders=tuple(
                OrderLine(
                    seller_id=order.seller_id,
                    reference=order.reference,
                    amount=order.amount,
                    estimated_delivery=order.estimated_delivery,
                )
                for order in succeeded
            ),
            status_page_url=status_page_url,
        )


@runtime_checkable
class BuyerNotifier(Protocol):
    """Delivers buyer notifications to one channel (e-mail, SMS, a CRM ...).

    ``notify_payment_succeeded`` returns once the channel accepted the notification and
    raises if it did not: :class:`NotificationRejectedError` when retrying cannot help, any
    other exception to be retried later. It runs in a job worker, outside any database
    transaction, and may run again for the same payment (after a crash, or when an operator
    replays a dead letter): deliveries are at least once.
    """

    @property
    def name(self) -> str:
        """A short, unique name (``smtp`` ...): the job remembers which notifiers delivered."""
        ...

    async def notify_payment_succeeded(self, notification: PaymentSucceededNotification) -> None:
        """Deliver ``notification`` or raise."""
        ...

    async def aclose(self) -> None:
        """Release connections; called once when the application stops."""
        ...


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What became of one round of deliveries."""

    delivered: tuple[str, ...]
    """The notifiers that have delivered, in this round or an earlier one."""
    failed: dict[str, str] = field(default_factory=dict)
    """Notifier name to the (redacted) reason of a temporary failure: try again later."""
    rejected: dict[str, str] = field(default_factory=dict)
    """Notifier name to the (redacted) reason of a permanent rejection."""

    def reason(self) -> str:
        """One line naming every failure."""
        parts = [f"{name}: {why}" for name, why in {**self.failed, **self.rejected}.items()]
        return "; ".join(parts)


async def deliver(
    notification: PaymentSucceededNotification,
    notifiers: Sequence[BuyerNotifier],
    *,
    already_delivered: Collection[str] = (),
) -> DeliveryReport:
    """Send ``notification`` through every notifier not in ``already_delivered``, at once.

    Never raises for a notifier's failure: it is in the report, its reason redacted.
    """
    pending = [n for n in notifiers if n.name not in already_delivered]
    results = await asyncio.gather(
        *(n.notify_payment_succeeded(notification) for n in pending), return_exceptions=True
    )
    delivered = list(already_delivered)
    failed: dict[str, str] = {}
    rejected: dict[str, str] = {}
    for notifier, result in zip(pending, results, strict=True):
        if isinstance(result, BaseException) and not isinstance(result, Exception):
            raise result  # cancellation and the like are not a notifier's failure
        if result is None:
            delivered.append(notifier.name)
            continue
        reason = redact(f"{type(result).__name__}: {result}", notification.buyer_email)
        if isinstance(result, NotificationRejectedError):
            rejected[notifier.name] = reason
        else:
            failed[notifier.name] = reason
    return DeliveryReport(tuple(delivered), failed, rejected)


def redact(text: str, email: str) -> str:
    """``text`` without ``email`` (in any letter case)."""
    return re.sub(re.escape(email), REDACTED_EMAIL, text, flags=re.IGNORECASE)
