"""Verified provider events, each applied once: payment statuses, disputes, refunds, payouts,
announced settlement reports.

The provider plugin verifies and normalizes a webhook; this routes each event to its use case.
Each event commits in its own database transaction together with the record that its id was
processed, so a redelivered event changes nothing. An event naming something paymux does not
know (yet) raises before anything is written, so the provider delivers it again later. An
announced settlement report becomes a ``reconcile_announced_report`` job in the same
transaction: a worker downloads and reconciles it (no network call here).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from paymux.core.domain.errors import ProviderReferenceUnknownError
from paymux.core.identifiers import utc_now
from paymux.core.jobs.reconciliation_jobs import announced_report_job
from paymux.core.ports.provider import (
    DisputeEvent,
    PayoutEvent,
    PayoutResult,
    ProviderEvent,
    RefundEvent,
    RefundResult,
    SettlementReportAvailable,
    WebhookEvent,
)
from paymux.core.services.chargebacks import ChargebackService
from paymux.core.services.payments import (
    PaymentNotRegisteredYetError,
    PaymentService,
    WebhookOutcome,
)
from paymux.core.services.payouts import PayoutService
from paymux.core.services.refunds import RefundService
from paymux.core.storage.unit_of_work import PaymentStore, UnitOfWork


class WebhookService:
    """Applies the events of one verified webhook."""

    def __init__(
        self,
        *,
        store: PaymentStore,
        payments: PaymentService,
        refunds: RefundService,
        payouts: PayoutService,
        chargebacks: ChargebackService,
        reconciliation_client: str | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """``reconciliation_client``: the API client whose records an announced settlement
        report is matched against (``None``: the worker's setting when the job runs)."""
        self._store = store
        self._payments = payments
        self._refunds = refunds
        self._payouts = payouts
        self._chargebacks = chargebacks
        self._reconciliation_client = reconciliation_client
        self._clock = clock

    async def apply(self, provider: str, events: Sequence[WebhookEvent]) -> WebhookOutcome:
        """Apply each event once, in order; what each did is counted in the outcome.

        Raises :class:`PaymentNotRegisteredYetError` or :class:`ProviderReferenceUnknownError`
        for an event naming a payment, refund or payout paymux does not know; events before
        it stay applied (and are duplicates when the provider delivers the webhook again).
        """
        outcome = WebhookOutcome()
        for event in events:
            if isinstance(event, ProviderEvent):
                done = await self._payments.apply_provider_events(provider, [event])
                outcome.applied += done.applied
                outcome.duplicates += done.duplicates
                outcome.unchanged += done.unchanged
                continue
            async with self._store.begin() as uow:
                change = await self._change_for(uow, provider, event)
                fresh = await uow.mark_webhook_event_processed(
                    provider, event.event_id, now=self._clock()
                )
                if not fresh:
                    outcome.duplicates += 1
                elif await change():
                    outcome.applied += 1
                else:
                    outcome.unchanged += 1
        return outcome

    async def _change_for(
        self,
        uow: UnitOfWork,
        provider: str,
        event: DisputeEvent | RefundEvent | PayoutEvent | SettlementReportAvailable,
    ) -> Callable[[], Awaitable[bool]]:
        """Find what the event is about (raising if unknown) and how to apply it."""
        if isinstance(event, SettlementReportAvailable):
            job = announced_report_job(provider, event, client_id=self._reconciliation_client)
            return lambda: uow.jobs.enqueue(
                job, now=self._clock(), client_id=self._reconciliation_client
            )
        if isinstance(event, DisputeEvent):
            payment_id = await uow.find_payment_id_by_psp_id(provider, event.token)
            if payment_id is None:
                raise PaymentNotRegisteredYetError(
                    f"{provider} reported a dispute on unknown token {event.token!r}"
                )
            return lambda: self._chargebacks.apply_in(uow, payment_id, provider, event)
        if isinstance(event, RefundEvent):
            refund_id = await self._refund_id(uow, provider, event)
            refund_result = RefundResult(event.status, event.psp_reference, event.failure_code)
            return lambda: self._refunds.apply_report_in(uow, refund_id, refund_result)
        payout_id = await self._payout_id(uow, provider, event)
        payout_result = PayoutResult(event.status, event.psp_reference, event.failure_code)
        return lambda: self._payouts.apply_report_in(uow, payout_id, payout_result)

    @staticmethod
    async def _refund_id(uow: UnitOfWork, provider: str, event: RefundEvent) -> str:
        if event.refund_id is not None:
            refund = await uow.get_refund(event.refund_id)
            payment = None if refund is None else await uow.get_payment(refund.payment_event_id)
            if payment is not None and payment.provider == provider:
                return event.refund_id
        if event.psp_reference is not None:
            found = await uow.find_refund_id(provider, event.psp_reference)
            if found is not None:
                return found
        raise ProviderReferenceUnknownError(
            f"{provider} reported on an unknown refund "
            f"(id {event.refund_id!r}, reference {event.psp_reference!r})"
        )

    @staticmethod
    async def _payout_id(uow: UnitOfWork, provider: str, event: PayoutEvent) -> str:
        if event.payout_id is not None:
            payout = await uow.get_payout(event.payout_id)
            if payout is not None and payout.provider == provider:
                return event.payout_id
        if event.psp_reference is not None:
            found = await uow.find_payout_id(provider, event.psp_reference)
            if found is not None:
                return found
        raise ProviderReferenceUnknownError(
            f"{provider} reported on an unknown payout "
            f"(id {event.payout_id!r}, reference {event.psp_reference!r})"
        )
