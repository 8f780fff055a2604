"""Refunds: validated under row locks, executed at the provider, posted to the ledger.

Like payment creation: the refund, its idempotency key and its ``submit_refund`` job are
written first (pending, so it counts against what can still be refunded), the provider is
called outside any database transaction, and the outcome commits with its ledger entries and
outbox event. If the provider's answer is unknown, a worker sends the refund again with the
same PSP idempotency key (retried with back-off, dead-lettered after the last attempt).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from paymux.core.domain.errors import (
    PaymentNotFoundError,
    PaymentOrderNotFoundError,
    ProviderOutcomeUnknownError,
    RefundNotAllowedError,
    RefundNotFoundError,
    RefundsNotSupportedError,
)
from paymux.core.domain.jobs import JobKind, NewJob
from paymux.core.domain.models import OutboxMessage, PaymentEvent
from paymux.core.domain.refunds import Refund, RefundPart, RefundStatus
from paymux.core.domain.status import PaymentStatus
from paymux.core.identifiers import new_id, utc_now
from paymux.core.jobs.retry import RetryPolicy, policy_for
from paymux.core.ledger.accounts import Purpose, seller_account
from paymux.core.ledger.journal import JournalEntry
from paymux.core.ledger.rules import LatePayment, LedgerEvent, RefundSucceeded, default_entry
from paymux.core.ports.provider import RefundRequest, RefundResult
from paymux.core.providers import ProviderRegistry
from paymux.core.services.idempotency import IdempotentRequest, StoredResponse, claim_or_resume
from paymux.core.services.payments import (
    derive_psp_idempotency_key,
    late_provider_side,
    order_facts,
)
from paymux.core.services.provider_calls import OutcomeUnknown, call_provider
from paymux.core.storage.job_repository import INLINE_WORKER
from paymux.core.storage.unit_of_work import PaymentStore, UnitOfWork
from paymux.currencies import Money, allocate

log = logging.getLogger(__name__)


LATE_PAYMENT_REASON = "paid after the payment expired"
"""The reason of the automatic refund of a late payment."""


def late_refund_id(payment_id: str) -> str:
    """The id of the refund that gives back a late payment (one per payment)."""
    return f"re_late_{payment_id.removeprefix('pay_')}"


def submit_refund_key(refund_id: str) -> str:
    """The key of a refund's submission job."""
    return f"{JobKind.SUBMIT_REFUND.value}:{refund_id}"


@dataclass(frozen=True, slots=True)
class RefundAsk:
    """What the client asked to refund: an order (or all) and an amount (or all that is left)."""

    payment_order_id: str | None
    amount: object | None
    """The amount as sent (a decimal string), parsed in the payment's currency."""
    reason: str | None


class RefundService:
    """Creates and reads refunds."""

    def __init__(
        self,
        *,
        store: PaymentStore,
        providers: ProviderRegistry,
        lock_seconds: float,
        ledger_entry: Callable[[LedgerEvent], JournalEntry] = default_entry,
        clock: Callable[[], datetime] = utc_now,
        retry_policies: Mapping[str, RetryPolicy] | None = None,
    ) -> None:
        self._store = store
        self._providers = providers
        self._lock = timedelta(seconds=lock_seconds)
        self._ledger_entry = ledger_entry
        self._clock = clock
        self._policy = policy_for(JobKind.SUBMIT_REFUND, retry_policies or {})

    async def create_refund(
        self,
        request: IdempotentRequest,
        payment_id: str,
        ask: RefundAsk,
        render: Callable[[Refund], str],
    ) -> StoredResponse:
        """Refund (part of) a payment, once per idempotency key.

        Raises :class:`RefundNotAllowedError` (more than is left, nothing paid),
        :class:`RefundsNotSupportedError`, :class:`PaymentNotFoundError` or
        :class:`PaymentOrderNotFoundError` with nothing written, and
        :class:`ProviderOutcomeUnknownError` when the provider's answer is unknown (the refund
        stays pending; the same request with the same key resumes it).
        """
        now = self._clock()
        refund_id = new_id("re")

        async def open_refund(uow: UnitOfWork) -> Refund:
            return await self._open(uow, request, payment_id, ask, refund_id, now)

        async def load_refund(uow: UnitOfWork, existing_id: str) -> Refund | None:
            return await uow.get_refund(existing_id)

        claimed = await claim_or_resume(
            self._store, request, resource_id=refund_id, now=now, lock=self._lock,
            open_resource=open_refund, load_resource=load_refund,
        )  # fmt: skip
        if isinstance(claimed, StoredResponse):
            return claimed
        return await self._execute(claimed.resource, claimed.record_id, render)

    async def get_refund(self, refund_id: str, *, client_id: str) -> Refund:
        """A refund of ``client_id``."""
        async with self._store.begin() as uow:
            refund = await uow.get_refund(refund_id, client_id=client_id)
        if refund is None:
            raise RefundNotFoundError(f"no refund {refund_id}")
        return refund

    async def _open(
        self,
        uow: UnitOfWork,
        request: IdempotentRequest,
        payment_id: str,
        ask: RefundAsk,
        refund_id: str,
        now: datetime,
    ) -> Refund:
        payment = await uow.get_payment(payment_id, client_id=request.client_id, lock=True)
        if payment is None:
            raise PaymentNotFoundError(f"no payment {payment_id}")
        if "refunds" not in self._providers.get(payment.provider).capabilities().features:
            raise RefundsNotSupportedError(f"{payment.provider} does not support refunds")
        parts = _parts(
            payment,
            ask,
            await uow.refunded_per_order(payment_id),
            await uow.chargebacks.held_per_order(payment_id),
        )
        refund = Refund(
            id=refund_id,
            payment_event_id=payment.id,
            client_id=request.client_id,
            amount=Money.sum((p.amount for p in parts), payment.currency),
            status=RefundStatus.PENDING,
            reason=ask.reason,
            failure_code=None,
            psp_idempotency_key=derive_psp_idempotency_key(
                request.client_id, f"refund:{request.key}"
            ),
            psp_reference=None,
            parts=parts,
            created_at=now,
            updated_at=now,
        )
        await uow.insert_refund(refund)
        await uow.add_outbox([_refund_message("refund.created", refund)], now=now)
        await uow.jobs.enqueue(
            NewJob(
                kind=JobKind.SUBMIT_REFUND,
                key=submit_refund_key(refund.id),
                payload={"refund_id": refund.id},
                provider=payment.provider,
            ),
            now=now,
            client_id=refund.client_id,
            running_until=now + self._lock,
            worker=INLINE_WORKER,
        )
        return refund

    async def _execute(
        self, refund: Refund, record_id: int, render: Callable[[Refund], str]
    ) -> StoredResponse:
        if refund.status is RefundStatus.PENDING:
            try:
                result = await self._submit(refund)
            except OutcomeUnknown as unknown:
                await self._release(record_id, refund, unknown.cause)
                raise _unknown(refund, unknown.cause) from unknown.cause
        else:
            result = RefundResult(status=refund.status)
        async with self._store.begin() as uow:
            await self._settle(uow, refund, result)
            await uow.jobs.finish_key(submit_refund_key(refund.id), now=self._clock())
            settled = await uow.get_refund(refund.id)
            assert settled is not None
            body = render(settled)
            await uow.complete_idempotency_key(record_id, status=201, body=body)
        return StoredResponse(201, body)

    async def _submit(self, refund: Refund) -> RefundResult:
        """Send the refund to the provider with its PSP key; a final refusal is a failed
        result, anything else unknown raises :class:`OutcomeUnknown`."""
        async with self._store.begin() as uow:
            payment = await uow.get_payment(refund.payment_event_id)
        assert payment is not None
        assert payment.registration is not None
        assert payment.registration.token is not None
        provider = self._providers.get(payment.provider)
        token = payment.registration.token
        psp_payment_id = payment.registration.psp_payment_id
        return await call_provider(
            lambda: provider.refund(
                RefundRequest(refund.id, token, refund.amount, refund.reason, psp_payment_id),
                idempotency_key=refund.psp_idempotency_key,
            ),
            refused=lambda code: RefundResult(RefundStatus.FAILED, failure_code=code),
            provider=payment.provider,
        )

    async def _release(self, record_id: int, refund: Refund, error: Exception) -> None:
        log.warning("refund %s has an unknown outcome: %s", refund.id, error)
        async with self._store.begin() as uow:
            await uow.release_idempotency_key(record_id)
            await uow.jobs.hand_to_workers(
                submit_refund_key(refund.id), error=error, policy=self._policy, now=self._clock()
            )

    async def complete_refund(self, refund_id: str) -> Refund:
        """The ``submit_refund`` job: send a refund whose submission's answer was lost again,
        with the same PSP key, and settle what the provider says. An unknown outcome raises
        the provider's error for the worker to retry. A refund the provider has already
        answered (a reference, or settled) is left as it is."""
        async with self._store.begin() as uow:
            refund = await uow.get_refund(refund_id)
        if refund is None:
            raise RefundNotFoundError(f"no refund {refund_id}")
        if refund.status is not RefundStatus.PENDING or refund.psp_reference is not None:
            return refund
        try:
            result = await self._submit(refund)
        except OutcomeUnknown as unknown:
            raise unknown.cause from None
        async with self._store.begin() as uow:
            await self._settle(uow, refund, result)
            settled = await uow.get_refund(refund_id)
        assert settled is not None
        return settled

    async def refund_late_payment(self, payment_id: str) -> Refund:
        """The ``refund_late_payment`` job: give back what a buyer paid after paymux had
        expired the payment (booked to ``late_payments``), through the payment's provider,
        with a PSP key of its own. The refund has no parts (no order carries the money); its
        success moves the money from ``late_payments`` back out of PSP clearing. An unknown
        outcome raises for the worker to retry; a pending one is settled by its webhook.
        """
        refund_id = late_refund_id(payment_id)
        now = self._clock()
        async with self._store.begin() as uow:
            refund = await uow.get_refund(refund_id)
            if refund is None:
                payment = await uow.get_payment(payment_id, lock=True)
                if payment is None:
                    raise PaymentNotFoundError(f"no payment {payment_id}")
                features = self._providers.get(payment.provider).capabilities().features
                if "refunds" not in features:
                    raise RefundsNotSupportedError(
                        f"{payment.provider} cannot refund: the late payment stays booked as "
                        "owed to the buyer for an operator"
                    )
                late = [o for o in payment.orders if o.status is PaymentStatus.EXPIRED]
                refund = Refund(
                    id=refund_id,
                    payment_event_id=payment.id,
                    client_id=payment.client_id,
                    amount=Money.sum((o.amount for o in late), payment.currency),
                    status=RefundStatus.PENDING,
                    reason=LATE_PAYMENT_REASON,
                    failure_code=None,
                    psp_idempotency_key=derive_psp_idempotency_key(
                        payment.client_id, f"late-refund:{payment.id}"
                    ),
                    psp_reference=None,
                    parts=(),
                    created_at=now,
                    updated_at=now,
                )
                await uow.insert_refund(refund)
                await uow.add_outbox([_refund_message("refund.created", refund)], now=now)
        return await self.complete_refund(refund_id)

    async def apply_report_in(self, uow: UnitOfWork, refund_id: str, result: RefundResult) -> bool:
        """Apply a provider's later report on a refund within ``uow`` (a webhook).

        Monotonic: a settled refund stays as it is. ``True`` if the report changed it.
        """
        refund = await uow.get_refund(refund_id)
        if refund is None:
            raise RefundNotFoundError(f"no refund {refund_id}")
        return await self._settle(uow, refund, result)

    async def _settle(self, uow: UnitOfWork, refund: Refund, result: RefundResult) -> bool:
        if result.status is RefundStatus.PENDING:
            if result.psp_reference is not None:
                await uow.record_refund_reference(refund.id, result.psp_reference)
            return False
        now = self._clock()
        changed = await uow.set_refund_status(
            refund.id, result.status, psp_reference=result.psp_reference,
            failure_code=result.failure_code, now=now,
        )  # fmt: skip
        if not changed:
            return False
        if result.status is RefundStatus.SUCCEEDED and not refund.parts:
            payment = await uow.get_payment(refund.payment_event_id)
            assert payment is not None
            late = LatePayment(
                refund.client_id,
                payment.id,
                payment.provider,
                late_provider_side(payment, refund.amount),
                "refunded",
            )
            if not late.amount.is_zero:  # converted to nothing: nothing to post
                await uow.ledger.record(refund.client_id, self._ledger_entry(late), now=now)
        elif result.status is RefundStatus.SUCCEEDED:
            payment = await uow.get_payment(refund.payment_event_id, lock=True)
            assert payment is not None
            orders = {order.id: order for order in payment.orders}
            parts = [(part, orders[part.payment_order_id]) for part in refund.parts]
            balances = await uow.ledger.locked_normal_balances(
                (
                    seller_account(payment.client_id, order.seller_id,
                                   Purpose.SELLER_AVAILABLE, payment.currency)
                    for _part, order in parts
                    if order.shipped_at is not None
                ),
                now=now,
            )  # fmt: skip
            # what succeeded refunds gave back per order, this one included (its status was
            # just set): its parts are allocated after the others (cumulative FX shares)
            refunded = await uow.refunded_per_order(payment.id)
            entries: list[JournalEntry] = []
            for part, order in parts:
                released = order.shipped_at is not None
                key = seller_account(
                    payment.client_id, order.seller_id, Purpose.SELLER_AVAILABLE, payment.currency
                )
                # earlier parts of this refund already debited it (a debit lowers a liability)
                debited = Money.sum(
                    (p.amount for e in entries for p in e.postings if p.account == key),
                    payment.currency,
                )
                available = balances.get(key, Money.zero(payment.currency)) - debited
                entry = self._ledger_entry(
                    RefundSucceeded(
                        order=order_facts(payment, order),
                        refund_id=refund.id,
                        amount=part.amount,
                        released=released,
                        seller_available=available,
                        refunded_before=Money(
                            refunded.get(order.id, (0, 0))[0] - part.amount.minor,
                            payment.currency,
                        ),
                    )
                )
                entries.append(entry)
            await uow.ledger.record_all(payment.client_id, entries, now=now)
        settled = await uow.get_refund(refund.id)
        assert settled is not None
        await uow.add_outbox([_refund_message(f"refund.{result.status.value}", settled)], now=now)
        return True


def _parts(
    payment: PaymentEvent,
    ask: RefundAsk,
    refunded: dict[str, tuple[int, int]],
    disputed: dict[str, tuple[int, int]],
) -> tuple[RefundPart, ...]:
    """Which orders give how much: never more than paid and not refunded (or pending) nor
    taken by an open or lost chargeback."""
    currency = payment.currency
    left = {
        order.id: max(
            0,
            order.amount.minor
            - sum(refunded.get(order.id, (0, 0)))
            - disputed.get(order.id, (0, 0))[0],
        )
        for order in payment.orders
        if order.status is PaymentStatus.SUCCEEDED
    }
    if ask.payment_order_id is not None:
        if ask.payment_order_id not in {order.id for order in payment.orders}:
            raise PaymentOrderNotFoundError(
                f"payment {payment.id} has no order {ask.payment_order_id}"
            )
        if ask.payment_order_id not in left:
            raise RefundNotAllowedError(f"order {ask.payment_order_id} has not succeeded")
        left = {ask.payment_order_id: left[ask.payment_order_id]}
    available = Money(sum(left.values()), currency)
    if not available.is_positive:
        raise RefundNotAllowedError("nothing is left to refund")
    amount = available if ask.amount is None else Money.parse(ask.amount, currency)
    if not amount.is_positive:
        raise RefundNotAllowedError("a refund must be greater than zero")
    if amount > available:
        raise RefundNotAllowedError(f"{amount} is more than the {available} left to refund")
    shares = allocate(amount, list(left.values()))
    return tuple(
        RefundPart(order_id, share)
        for order_id, share in zip(left, shares, strict=True)
        if share.is_positive
    )


def _unknown(refund: Refund, error: Exception) -> ProviderOutcomeUnknownError:
    return ProviderOutcomeUnknownError(
        f"the provider did not confirm refund {refund.id} ({error}); it stays pending: "
        "send the same request with the same Idempotency-Key to resume it",
        payment_id=refund.payment_event_id,
        refund_id=refund.id,
    )


def _refund_message(topic: str, refund: Refund) -> OutboxMessage:
    return OutboxMessage(
        topic=topic,
        key=refund.payment_event_id,
        payload={
            "refund_id": refund.id,
            "payment_id": refund.payment_event_id,
            "status": refund.status.value,
            "amount_minor": refund.amount.minor,
            "currency": refund.amount.currency,
            "failure_code": refund.failure_code,
            "parts": [
                {"payment_order_id": p.payment_order_id, "amount_minor": p.amount.minor}
                for p in refund.parts
            ],
        },
    )
