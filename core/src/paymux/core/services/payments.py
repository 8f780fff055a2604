"""Payment use cases: create (idempotently), read, and apply what providers report.

The rule of the house: every state change commits in one transaction together with its outbox
event, and no transaction stays open while a provider is called.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from paymux.core import crashpoints
from paymux.core.domain.checkout import CheckoutDraft
from paymux.core.domain.errors import (
    FxRateUnavailableError,
    NoProviderError,
    PaymentNotFoundError,
    ProviderOutcomeUnknownError,
    WebhookPaymentMismatchError,
)
from paymux.core.domain.jobs import JobKind, NewJob
from paymux.core.domain.models import (
    OrderStatusChange,
    OutboxMessage,
    PaymentEvent,
    PaymentOrder,
    PspRegistration,
)
from paymux.core.domain.status import PaymentStatus, next_status
from paymux.core.fx.quotes import Quote, Quoter, convert
from paymux.core.fx.rates import RateUnavailableError
from paymux.core.fx.settlement import settlement_amounts
from paymux.core.identifiers import new_id, utc_now
from paymux.core.jobs.circuit import CircuitBreakers
from paymux.core.jobs.janitor import JanitorSchedule
from paymux.core.jobs.retry import RetryPolicy, policy_for
from paymux.core.ledger.journal import JournalEntry
from paymux.core.ledger.rules import (
    LatePayment,
    LedgerEvent,
    OrderFacts,
    PaymentSucceeded,
    default_entry,
)
from paymux.core.ports.provider import (
    CheckoutRegistration,
    CheckoutRequest,
    ProviderError,
    ProviderEvent,
)
from paymux.core.providers import ProviderRegistry
from paymux.core.routing import CapabilityRouter, Router
from paymux.core.services.idempotency import IdempotentRequest, StoredResponse, claim_or_resume
from paymux.core.services.payment_pending import PendingWork, explain_pending
from paymux.core.storage.job_repository import INLINE_WORKER
from paymux.core.storage.unit_of_work import PaymentStore, UnitOfWork
from paymux.currencies import InvalidAmountError, Money

log = logging.getLogger(__name__)

Renderer = Callable[[PaymentEvent], str]
"""Turns a payment into the response body the API stores and replays."""


def register_job_key(payment_id: str) -> str:
    """The key of a payment's registration job."""
    return f"{JobKind.REGISTER_PAYMENT.value}:{payment_id}"


def check_job_key(payment_id: str) -> str:
    """The key of a payment's janitor job."""
    return f"{JobKind.CHECK_PAYMENT.value}:{payment_id}"


def notify_job_key(payment_id: str) -> str:
    """The key of a payment's buyer notification job."""
    return f"{JobKind.NOTIFY_BUYER.value}:{payment_id}"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What one janitor check found."""

    payment: PaymentEvent
    settled: bool
    """Every order is in a terminal state now."""


@dataclass(slots=True)
class WebhookOutcome:
    """What applying a webhook's events did."""

    applied: int = 0
    duplicates: int = 0
    unchanged: int = 0


class PaymentNotRegisteredYetError(PaymentNotFoundError):
    """A provider event names a token paymux does not know (yet): the provider should retry."""

    code = "payment-not-found"


def derive_psp_idempotency_key(client_id: str, key: str) -> str:
    """The idempotency key sent to the PSP for the request with ``key`` from ``client_id``.

    Stable (a retry sends the same one), scoped per client, and short enough for every PSP
    (Square allows 45 characters).
    """
    digest = hashlib.sha256(f"{client_id}\x1f{key}".encode()).hexdigest()
    return f"pmx-{digest[:40]}"


class PaymentService:
    """The payment use cases. Build one per application with its collaborators."""

    def __init__(
        self,
        *,
        store: PaymentStore,
        providers: ProviderRegistry,
        buyer_return_url: Callable[[PaymentEvent], str],
        router: Router | None = None,
        lock_seconds: float,
        on_status_changed: Callable[[OrderStatusChange], Any] | None = None,
        ledger_entry: Callable[[LedgerEvent], JournalEntry] = default_entry,
        clock: Callable[[], datetime] = utc_now,
        breakers: CircuitBreakers | None = None,
        janitor: JanitorSchedule | None = None,
        retry_policies: dict[str, RetryPolicy] | None = None,
        notify_buyers: bool = True,
        refund_late_payments: bool = True,
        quoter: Quoter | None = None,
        settlement_currencies: Mapping[str, str] | None = None,
    ) -> None:
        self._store = store
        self._quoter = quoter
        self._settlement_currencies = dict(settlement_currencies or {})
        self._refund_late_payments = refund_late_payments
        self._breakers = breakers
        self._janitor = janitor or JanitorSchedule()
        self._register_policy = policy_for(JobKind.REGISTER_PAYMENT, retry_policies or {})
        self._notify_buyers = notify_buyers
        self._providers = providers
        self._router: Router = router or CapabilityRouter(providers)
        self._buyer_return_url = buyer_return_url
        self._lock = timedelta(seconds=lock_seconds)
        self._on_status_changed = on_status_changed
        self._ledger_entry = ledger_entry
        self._clock = clock

    # -- create --------------------------------------------------------------------------

    async def create_payment(
        self, request: IdempotentRequest, draft: CheckoutDraft, render: Renderer
    ) -> StoredResponse:
        """Create a payment and register it with its provider, exactly once per key.

        The same key with the same request replays the stored response; with another request
        it raises :class:`IdempotencyKeyReusedError`; while the first request is still running,
        :class:`IdempotencyKeyInUseError`. If the provider's answer is unknown (timeout), the
        payment stays ``unknown``, :class:`ProviderOutcomeUnknownError` is raised and the next
        request with the same key resumes the registration with the same PSP key.

        The registration is also a durable job, written with the payment and held by this
        request while it runs: if the process dies or the provider fails, a worker resumes it
        (same PSP key, retried with back-off, dead-lettered after the last attempt).
        """
        now = self._clock()
        payment_id = new_id("pay")
        # Routed first; a payment its provider settles in another currency gets its quote
        # locked here, outside any transaction, unless the key was used before (a replay or
        # a resumed request keeps the payment's stored quote and asks for none).
        try:
            priced: _Pricing | None = self._route(draft)
        except NoProviderError:  # raised below, where the key's replay takes precedence
            priced = None
        if priced is not None and priced.settlement_currency != draft.currency:
            async with self._store.begin() as uow:
                known = await uow.find_idempotency_key(request.client_id, request.key)
            priced = None if known is not None else await self._lock_quote(draft, priced)

        async def open_payment(uow: UnitOfWork) -> PaymentEvent:
            pricing = priced
            if pricing is None:  # unroutable, or the key was there a moment ago: route now
                pricing = self._route(draft)
                if pricing.settlement_currency != draft.currency:
                    raise FxRateUnavailableError(
                        "the payment's quote was not locked; send the request again"
                    )
            payment = _new_payment(payment_id, request, draft, pricing, now)
            await uow.insert_payment(payment)
            await uow.add_outbox([_payment_created(payment)], now=now)
            await uow.jobs.enqueue(
                _register_job(payment),
                now=now,
                client_id=payment.client_id,
                running_until=now + self._lock,
                worker=INLINE_WORKER,
            )
            uow.after_commit(functools.partial(crashpoints.reached, crashpoints.PAYMENT_COMMITTED))
            return payment

        async def load_payment(uow: UnitOfWork, existing_id: str) -> PaymentEvent | None:
            return await uow.get_payment(existing_id)

        claimed = await claim_or_resume(
            self._store, request, resource_id=payment_id, now=now, lock=self._lock,
            open_resource=open_payment, load_resource=load_payment,
        )  # fmt: skip
        if isinstance(claimed, StoredResponse):
            return claimed
        return await self._register(claimed.resource, claimed.record_id, render)

    def _route(self, draft: CheckoutDraft) -> _Pricing:
        provider = self._router.choose(
            country=draft.country, currency=draft.currency, method=draft.payment_method
        )
        settles_in = self._settlement_currencies.get(provider.name, draft.currency)
        return _Pricing(provider.name, settles_in)

    async def _lock_quote(self, draft: CheckoutDraft, pricing: _Pricing) -> _Pricing:
        """``pricing`` with a quote locked for the conversion to its settlement currency
        (a rate source call: never inside a transaction)."""
        pair = f"{draft.currency}/{pricing.settlement_currency}"
        if self._quoter is None:
            raise FxRateUnavailableError(
                f"{pricing.provider} settles in {pricing.settlement_currency} and no rate "
                f"source is configured for {pair} (see PAYMUX_FX__SOURCE)"
            )
        try:
            quote = await self._quoter.lock(draft.currency, pricing.settlement_currency)
        except RateUnavailableError as error:
            raise FxRateUnavailableError(f"no rate for {pair}: {error}") from None
        settled = convert(draft.total, quote)
        if settled.is_zero:  # nothing would reach the provider's side: refused, nothing written
            raise InvalidAmountError(
                f"{draft.total} is {settled} at the {pair} rate {quote.rate}: too small to "
                f"settle in {pricing.settlement_currency}"
            )
        return replace(pricing, quote=quote)

    async def _register(
        self, payment: PaymentEvent, record_id: int, render: Renderer
    ) -> StoredResponse:
        payment_id = payment.id
        registration = payment.registration
        if registration is None:  # pragma: no cover - written with the payment
            raise PaymentNotFoundError(f"payment {payment_id} has no registration")
        if registration.token is None:
            if self._breakers is not None and not self._breakers.allow(payment.provider):
                await self._registration_waits(payment, record_id)
                raise ProviderOutcomeUnknownError(
                    f"{payment.provider} is failing (circuit open); the registration waits "
                    "and a worker sends it when the provider is back",
                    payment_id=payment.id,
                )
            try:
                answer = await self._call_register(payment)
            except ProviderError as error:
                if not (error.retryable or error.outcome_unknown):
                    code = getattr(error, "code", "provider-rejected")
                    async with self._store.begin() as uow:
                        # a final refusal: the registration job has nothing left to do
                        await uow.jobs.finish_key(register_job_key(payment_id), now=self._clock())
                        return await self._finish_in(
                            uow, payment_id, record_id, render, PaymentStatus.FAILED, code
                        )
                await self._registration_failed(payment, record_id, error)
                raise _outcome_unknown(payment, error) from error
            except Exception as error:
                # A plugin bug: the provider may or may not have acted, so this is unknown too.
                log.exception("provider %s raised unexpectedly", payment.provider)
                await self._registration_failed(payment, record_id, error)
                raise _outcome_unknown(payment, error) from error
            async with self._store.begin() as uow:
                await self._record_registration(uow, payment, answer)
                return await self._finish_in(
                    uow, payment_id, record_id, render, PaymentStatus.PENDING, None
                )
        return await self._finish(payment_id, record_id, render, PaymentStatus.PENDING, None)

    async def _call_register(self, payment: PaymentEvent) -> CheckoutRegistration:
        """Register ``payment`` at its provider with its PSP key; feeds the circuit breaker."""
        assert payment.registration is not None
        provider = self._providers.get(payment.provider)
        crashpoints.reached(crashpoints.BEFORE_PSP_CALL)
        try:
            answer = await provider.register_checkout(
                _checkout_request(payment, self._buyer_return_url(payment)),
                idempotency_key=payment.registration.psp_idempotency_key,
            )
        except ProviderError as error:
            if self._breakers is not None:
                if error.retryable:
                    self._breakers.record_failure(payment.provider)
                else:
                    self._breakers.record_success(payment.provider)
            raise
        if self._breakers is not None:
            self._breakers.record_success(payment.provider)
        crashpoints.reached(crashpoints.PSP_ANSWERED)
        return answer

    async def _record_registration(
        self, uow: UnitOfWork, payment: PaymentEvent, answer: CheckoutRegistration
    ) -> None:
        """Store the provider's answer, close the registration job, schedule the janitor."""
        now = self._clock()
        await uow.record_registration(
            payment.id,
            token=answer.token,
            redirect_url=answer.redirect_url,
            psp_reference=answer.psp_reference,
            now=now,
        )
        await uow.jobs.finish_key(register_job_key(payment.id), now=now)
        await self._schedule_check(uow, payment, now)

    async def _schedule_check(self, uow: UnitOfWork, payment: PaymentEvent, now: datetime) -> None:
        delays = self._janitor.delays(payment.provider, payment.payment_method)
        await uow.jobs.enqueue(
            NewJob(
                kind=JobKind.CHECK_PAYMENT,
                key=check_job_key(payment.id),
                payload={"payment_id": payment.id, "check": 0},
                provider=payment.provider,
                run_at=now + timedelta(seconds=delays[0]),
            ),
            now=now,
            client_id=payment.client_id,
        )

    async def _registration_failed(
        self, payment: PaymentEvent, record_id: int, error: Exception
    ) -> None:
        """The inline registration failed retryably: the payment is ``unknown`` (unless the
        provider surely did nothing), the request's key is released, and the job goes to the
        workers after the first back-off."""
        log.warning("registration of %s did not complete: %s", payment.id, error)
        now = self._clock()
        unknown = not isinstance(error, ProviderError) or error.outcome_unknown
        async with self._store.begin() as uow:
            changes: list[OrderStatusChange] = []
            if unknown:
                changes, _payment = await self._advance(
                    uow, payment.id, PaymentStatus.UNKNOWN, None
                )
            await uow.release_idempotency_key(record_id)
            await uow.jobs.hand_to_workers(
                register_job_key(payment.id), error=error, policy=self._register_policy, now=now
            )
            self._after_commit(uow, changes)

    async def _registration_waits(self, payment: PaymentEvent, record_id: int) -> None:
        """The provider's circuit is open: nothing is sent; the job waits for the circuit."""
        assert self._breakers is not None
        now = self._clock()
        async with self._store.begin() as uow:
            await uow.release_idempotency_key(record_id)
            await uow.jobs.release_key(
                register_job_key(payment.id),
                worker=INLINE_WORKER,
                now=now,
                next_run_at=self._breakers.reopens_at(payment.provider) or now,
                error=f"{payment.provider}'s circuit is open",
                failed=False,
            )

    async def complete_registration(self, payment_id: str) -> PaymentEvent:
        """The registration job: register the payment if it is not yet (same PSP key).

        A final refusal fails the payment. A retryable error is raised after the payment
        was marked ``unknown`` (when the provider may have acted), for the worker to retry.
        """
        payment = await self.get_payment(payment_id, client_id=None)
        registration = payment.registration
        if registration is None or registration.token is not None or payment.is_settled:
            return payment
        try:
            answer = await self._call_register(payment)
        except ProviderError as error:
            if error.retryable or error.outcome_unknown:
                if error.outcome_unknown:
                    await self._advance_alone(payment_id, PaymentStatus.UNKNOWN, None)
                raise
            return await self._advance_alone(
                payment_id, PaymentStatus.FAILED, getattr(error, "code", "provider-rejected")
            )
        except Exception:
            await self._advance_alone(payment_id, PaymentStatus.UNKNOWN, None)
            raise
        async with self._store.begin() as uow:
            await self._record_registration(uow, payment, answer)
            changes, registered = await self._advance(uow, payment_id, PaymentStatus.PENDING, None)
            self._after_commit(uow, changes)
        return registered

    async def _advance_alone(
        self, payment_id: str, status: PaymentStatus, failure_code: str | None
    ) -> PaymentEvent:
        async with self._store.begin() as uow:
            changes, payment = await self._advance(uow, payment_id, status, failure_code)
            self._after_commit(uow, changes)
        return payment

    async def _finish(
        self,
        payment_id: str,
        record_id: int,
        render: Renderer,
        status: PaymentStatus,
        failure_code: str | None,
    ) -> StoredResponse:
        async with self._store.begin() as uow:
            return await self._finish_in(uow, payment_id, record_id, render, status, failure_code)

    async def _finish_in(
        self,
        uow: UnitOfWork,
        payment_id: str,
        record_id: int,
        render: Renderer,
        status: PaymentStatus,
        failure_code: str | None,
    ) -> StoredResponse:
        changes, payment = await self._advance(uow, payment_id, status, failure_code)
        body = render(payment)
        await uow.complete_idempotency_key(record_id, status=201, body=body)
        self._after_commit(uow, changes)
        return StoredResponse(201, body)

    # -- read ----------------------------------------------------------------------------

    async def get_payment(self, payment_id: str, *, client_id: str | None) -> PaymentEvent:
        """The payment, if ``client_id`` owns it (``None``: any client, for internal use)."""
        async with self._store.begin() as uow:
            payment = await uow.get_payment(payment_id, client_id=client_id)
        if payment is None:
            raise PaymentNotFoundError(f"no payment {payment_id}")
        return payment

    async def pending_work(self, payment: PaymentEvent) -> PendingWork | None:
        """What ``payment`` waits for and when paymux acts next (``None`` once settled)."""
        if payment.is_settled:
            return None
        async with self._store.begin() as uow:
            registration_job = await uow.jobs.get_by_key(register_job_key(payment.id))
            check_job = await uow.jobs.get_by_key(check_job_key(payment.id))
        return explain_pending(payment, registration_job=registration_job, check_job=check_job)

    # -- provider reports ----------------------------------------------------------------

    async def apply_provider_events(
        self, provider_name: str, events: Sequence[ProviderEvent]
    ) -> WebhookOutcome:
        """Apply verified provider events: each once, monotonically, in its own transaction.

        A duplicate event id changes nothing; a late or regressing status changes nothing.
        An event for a token paymux does not know raises :class:`PaymentNotRegisteredYetError`
        before anything is written, so the provider delivers it again later.
        """
        outcome = WebhookOutcome()
        for event in events:
            async with self._store.begin() as uow:
                payment_id = await uow.find_payment_id_by_token(provider_name, event.token)
                if payment_id is None:
                    raise PaymentNotRegisteredYetError(
                        f"{provider_name} reported on unknown token {event.token!r}"
                    )
                if event.payment_id is not None and event.payment_id != payment_id:
                    raise WebhookPaymentMismatchError(
                        f"{provider_name}'s event {event.event_id} is signed for payment "
                        f"{event.payment_id!r} but its token names {payment_id!r}"
                    )
                fresh = await uow.mark_webhook_event_processed(
                    provider_name, event.event_id, now=self._clock()
                )
                if not fresh:
                    outcome.duplicates += 1
                    continue
                if event.psp_payment_id is not None:
                    await uow.record_psp_payment_id(payment_id, event.psp_payment_id)
                changes, _payment = await self._advance(
                    uow, payment_id, event.status, event.failure_code
                )
                if changes:
                    outcome.applied += 1
                else:
                    outcome.unchanged += 1
                self._after_commit(uow, changes)
        return outcome

    async def refresh_payment(self, payment_id: str) -> PaymentEvent:
        """Ask the provider where the payment stands and apply the answer (monotonically).

        The provider is called outside any transaction; this is how payments left ``unknown``
        or ``pending`` are settled when no webhook comes.
        """
        payment = await self.get_payment(payment_id, client_id=None)
        if payment.registration is None or payment.registration.token is None:
            return payment
        provider = self._providers.get(payment.provider)
        state = await provider.fetch_status(payment.registration.token)
        async with self._store.begin() as uow:
            if state.psp_payment_id is not None:
                await uow.record_psp_payment_id(payment_id, state.psp_payment_id)
            changes, refreshed = await self._advance(
                uow, payment_id, state.status, state.failure_code
            )
            self._after_commit(uow, changes)
        return refreshed

    # -- the janitor ---------------------------------------------------------------------

    def janitor_delays(self, payment: PaymentEvent) -> Sequence[float]:
        """The janitor's schedule for ``payment`` (seconds between checks)."""
        return self._janitor.delays(payment.provider, payment.payment_method)

    async def check_payment(self, payment_id: str) -> CheckResult:
        """One janitor check: ask the provider about a payment still open, apply the answer.

        A payment never registered is left to its registration job. Provider errors are
        raised (the job retries).
        """
        payment = await self.get_payment(payment_id, client_id=None)
        if payment.is_settled:
            return CheckResult(payment, settled=True)
        if payment.registration is None or payment.registration.token is None:
            return CheckResult(payment, settled=False)
        refreshed = await self.refresh_payment(payment_id)
        return CheckResult(refreshed, settled=refreshed.is_settled)

    async def expire_payment(self, payment_id: str, *, reason: str) -> PaymentEvent:
        """Expire every open order of the payment (the janitor's last word); the status
        change carries ``reason`` as its failure code and goes out as an event."""
        return await self._advance_alone(payment_id, PaymentStatus.EXPIRED, reason)

    # -- shared --------------------------------------------------------------------------

    async def _advance(
        self,
        uow: UnitOfWork,
        payment_id: str,
        reported: PaymentStatus,
        failure_code: str | None,
    ) -> tuple[list[OrderStatusChange], PaymentEvent]:
        """Move every order of the payment toward ``reported`` where the machine allows it.

        Takes row locks on the orders, writes the new statuses, their ledger entries (a
        succeeded order: provider clearing to seller pending) and their outbox events.
        Returns the changes and the payment as it now stands.
        """
        payment = await uow.get_payment(payment_id, lock=True)
        assert payment is not None
        now = self._clock()
        changes: list[OrderStatusChange] = []
        orders: list[PaymentOrder] = []
        entries: list[JournalEntry] = []
        for order in payment.orders:
            target = next_status(order.status, reported)
            if target is None:
                orders.append(order)
                continue
            code = failure_code if target in _WITH_FAILURE_CODE else None
            await uow.set_order_status(order.id, target, failure_code=code, now=now)
            if target is PaymentStatus.SUCCEEDED:
                entries.append(self._ledger_entry(PaymentSucceeded(order_facts(payment, order))))
            changes.append(
                OrderStatusChange(
                    payment_event_id=payment_id,
                    payment_order_id=order.id,
                    previous=order.status,
                    current=target,
                    failure_code=code,
                    occurred_at=now,
                )
            )
            orders.append(replace(order, status=target, failure_code=code, updated_at=now))
        await uow.ledger.record_all(payment.client_id, entries, now=now)
        await uow.add_outbox([_status_changed(change) for change in changes], now=now)
        advanced = replace(payment, orders=tuple(orders))
        await self._follow_up(uow, advanced, changes, now)
        if reported is PaymentStatus.SUCCEEDED:
            late = [order for order in payment.orders if order.status is PaymentStatus.EXPIRED]
            if late:
                await self._paid_after_expiry(uow, payment, late, now)
        return changes, advanced

    async def _paid_after_expiry(
        self, uow: UnitOfWork, payment: PaymentEvent, late: Sequence[PaymentOrder], now: datetime
    ) -> None:
        """The provider says the buyer paid a payment paymux had expired: book the money as
        owed to the buyer, say so by event, and (by default) queue its refund. Once."""
        amount = Money.sum((order.amount for order in late), payment.currency)
        held = late_provider_side(payment, amount)
        if not held.is_zero:  # an amount that converts to nothing has nothing to post
            entry = self._ledger_entry(
                LatePayment(payment.client_id, payment.id, payment.provider, held, "received")
            )
            if await uow.ledger.record(payment.client_id, entry, now=now) is None:
                return  # reported before
        log.warning("payment %s was paid after it expired (%s)", payment.id, amount)
        action = "refund" if self._refund_late_payments else "hold"
        await uow.add_outbox(
            [
                OutboxMessage(
                    topic="payment.paid_after_expiry",
                    key=payment.id,
                    payload={
                        "payment_id": payment.id,
                        "currency": payment.currency,
                        "amount_minor": amount.minor,
                        "payment_order_ids": [order.id for order in late],
                        "action": action,
                    },
                )
            ],
            now=now,
        )
        if self._refund_late_payments:
            await uow.jobs.enqueue(
                NewJob(
                    kind=JobKind.REFUND_LATE_PAYMENT,
                    key=f"{JobKind.REFUND_LATE_PAYMENT.value}:{payment.id}",
                    payload={"payment_id": payment.id},
                    provider=payment.provider,
                ),
                now=now,
                client_id=payment.client_id,
            )

    async def _follow_up(
        self,
        uow: UnitOfWork,
        payment: PaymentEvent,
        changes: Sequence[OrderStatusChange],
        now: datetime,
    ) -> None:
        """Jobs a status change calls for: the buyer's confirmation once a payment succeeded;
        no more janitor checks once every order is settled."""
        if not changes:
            return
        succeeded = any(change.current is PaymentStatus.SUCCEEDED for change in changes)
        if succeeded and self._notify_buyers:
            await uow.jobs.enqueue(
                NewJob(
                    kind=JobKind.NOTIFY_BUYER,
                    key=notify_job_key(payment.id),
                    payload={"payment_id": payment.id},
                ),
                now=now,
                client_id=payment.client_id,
            )
        if payment.is_settled:
            await uow.jobs.finish_key(check_job_key(payment.id), now=now)

    def _after_commit(self, uow: UnitOfWork, changes: list[OrderStatusChange]) -> None:
        if not changes:
            return
        uow.after_commit(functools.partial(crashpoints.reached, crashpoints.STATUS_COMMITTED))
        if self._on_status_changed is None:
            return
        for change in changes:
            uow.after_commit(functools.partial(self._on_status_changed, change))


@dataclass(frozen=True, slots=True)
class _Pricing:
    """Where a new payment goes and what it settles in: the provider, its settlement
    currency and, when that is not the payment's currency, the locked quote."""

    provider: str
    settlement_currency: str
    quote: Quote | None = None


def _new_payment(
    payment_id: str,
    request: IdempotentRequest,
    draft: CheckoutDraft,
    pricing: _Pricing,
    now: datetime,
) -> PaymentEvent:
    """The payment a checkout draft becomes: orders executing, registration not answered.

    A converted payment's total is converted once at its quote and shared out to the
    orders in proportion to their amounts."""
    provider = pricing.provider
    shares: tuple[Money | None, ...] = tuple(None for _ in draft.orders)
    if pricing.quote is not None:
        _total, settled = settlement_amounts(
            [order.amount for order in draft.orders], pricing.quote
        )
        shares = settled
    return PaymentEvent(
        id=payment_id,
        client_id=request.client_id,
        buyer_id=draft.buyer_id,
        currency=draft.currency,
        country=draft.country,
        payment_method=draft.payment_method,
        return_url=draft.return_url,
        provider=provider,
        created_at=now,
        buyer_email=draft.buyer_email,
        buyer_locale=draft.buyer_locale,
        settlement_currency=pricing.settlement_currency,
        fx_quote=pricing.quote,
        orders=tuple(
            PaymentOrder(
                id=new_id("po"),
                payment_event_id=payment_id,
                seller_id=order.seller_id,
                amount=order.amount,
                commission=order.commission,
                logistics_fee=order.logistics_fee,
                reference=order.reference,
                status=PaymentStatus.EXECUTING,
                failure_code=None,
                created_at=now,
                updated_at=now,
                estimated_delivery=order.estimated_delivery,
                settlement_amount=share,
            )
            for order, share in zip(draft.orders, shares, strict=True)
        ),
        registration=PspRegistration(
            payment_event_id=payment_id,
            provider=provider,
            psp_idempotency_key=derive_psp_idempotency_key(request.client_id, request.key),
            token=None,
            psp_reference=None,
            redirect_url=None,
        ),
    )


_WITH_FAILURE_CODE = frozenset({PaymentStatus.FAILED, PaymentStatus.EXPIRED})


def _register_job(payment: PaymentEvent) -> NewJob:
    return NewJob(
        kind=JobKind.REGISTER_PAYMENT,
        key=register_job_key(payment.id),
        payload={"payment_id": payment.id},
        provider=payment.provider,
    )


def order_facts(payment: PaymentEvent, order: PaymentOrder) -> OrderFacts:
    """What the posting rules need of one order."""
    return OrderFacts(
        client_id=payment.client_id,
        payment_id=payment.id,
        order_id=order.id,
        seller_id=order.seller_id,
        provider=payment.provider,
        amount=order.amount,
        commission=order.commission,
        logistics_fee=order.logistics_fee,
        settlement=order.settlement_amount,
    )


def late_provider_side(payment: PaymentEvent, amount: Money) -> Money:
    """``amount`` of a payment's late (expired) orders as the provider holds it: itself, or
    for a converted payment in the settlement currency (the late orders' settlement amounts
    when it is all of them, else ``amount`` converted at the payment's quote). Late money
    is owed to no seller, so it is booked wholly in that currency."""
    if payment.fx_quote is None:
        return amount
    late = [order for order in payment.orders if order.status is PaymentStatus.EXPIRED]
    if late and amount == Money.sum((order.amount for order in late), payment.currency):
        zero = Money.zero(payment.fx_quote.quote)
        return Money.sum(
            (order.settlement_amount or zero for order in late), payment.fx_quote.quote
        )
    return convert(amount, payment.fx_quote)


def _outcome_unknown(payment: PaymentEvent, error: Exception) -> ProviderOutcomeUnknownError:
    return ProviderOutcomeUnknownError(
        f"{payment.provider} did not confirm the registration ({error}); "
        "send the same request with the same Idempotency-Key to resume it",
        payment_id=payment.id,
    )


def _checkout_request(payment: PaymentEvent, return_url: str) -> CheckoutRequest:
    return CheckoutRequest(
        payment_id=payment.id,
        amount=payment.total,
        country=payment.country,
        payment_method=payment.payment_method,
        buyer_id=payment.buyer_id,
        order_references=tuple(order.reference for order in payment.orders),
        return_url=return_url,
    )


def _payment_created(payment: PaymentEvent) -> OutboxMessage:
    settled = payment.settlement_total
    return OutboxMessage(
        topic="payment.created",
        key=payment.id,
        payload={
            "payment_id": payment.id,
            "client_id": payment.client_id,
            "currency": payment.currency,
            "amount_minor": payment.total.minor,
            "provider": payment.provider,
            "orders": [
                {"id": o.id, "seller_id": o.seller_id, "amount_minor": o.amount.minor}
                for o in payment.orders
            ],
            "settlement_currency": payment.settles_in,
            "settlement_amount_minor": None if settled is None else settled.minor,
        },
    )


def _status_changed(change: OrderStatusChange) -> OutboxMessage:
    return OutboxMessage(
        topic="payment_order.status_changed",
        key=change.payment_event_id,
        payload={
            "payment_id": change.payment_event_id,
            "payment_order_id": change.payment_order_id,
            "previous": change.previous.value,
            "current": change.current.value,
            "failure_code": change.failure_code,
            "occurred_at": change.occurred_at.isoformat(),
        },
    )
