"""Chargebacks: disputes the provider reports, frozen, then given back or lost, in the ledger.

A dispute arrives as a verified webhook (:class:`~paymux.core.ports.provider.DisputeEvent`).
Opening it splits the disputed amount over the payment's orders in proportion to what each
still holds (paid, minus refunds done or pending, minus other open or lost chargebacks) and
freezes each part: from the seller's pending money before release, or like a refund after
release (seller's available money or a receivable, commission, logistics fee). What no order
can carry stays the platform's. Won gives the parts back, lost lets them go. Each report
commits with its ledger entries and outbox event in one database transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from paymux.core.domain.chargebacks import (
    Chargeback,
    ChargebackPart,
    DisputeStatus,
    next_dispute_status,
)
from paymux.core.domain.errors import (
    ChargebackNotFoundError,
    DisputeNotApplicableError,
    PaymentNotFoundError,
)
from paymux.core.domain.models import OutboxMessage, PaymentEvent, PaymentOrder
from paymux.core.domain.status import PaymentStatus
from paymux.core.fx.quotes import convert
from paymux.core.identifiers import new_id, utc_now
from paymux.core.ledger.accounts import AccountKey, Purpose, seller_account
from paymux.core.ledger.journal import JournalEntry
from paymux.core.ledger.rules import (
    ChargebackLost,
    ChargebackOpened,
    ChargebackWon,
    LedgerEvent,
    UnallocatedChargeback,
    default_entry,
)
from paymux.core.ports.provider import DisputeEvent
from paymux.core.services.payments import order_facts
from paymux.core.storage.unit_of_work import PaymentStore, UnitOfWork
from paymux.currencies import Money, allocate


class ChargebackService:
    """Applies dispute reports and reads chargebacks."""

    def __init__(
        self,
        *,
        store: PaymentStore,
        ledger_entry: Callable[[LedgerEvent], JournalEntry] = default_entry,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._store = store
        self._ledger_entry = ledger_entry
        self._clock = clock

    async def get_chargeback(self, chargeback_id: str, *, client_id: str) -> Chargeback:
        """A chargeback of ``client_id``."""
        async with self._store.begin() as uow:
            chargeback = await uow.chargebacks.get(chargeback_id, client_id=client_id)
        if chargeback is None:
            raise ChargebackNotFoundError(f"no chargeback {chargeback_id}")
        return chargeback

    async def chargebacks_of(self, payment_id: str, *, client_id: str) -> list[Chargeback]:
        """Every chargeback of a payment of ``client_id``, oldest first."""
        async with self._store.begin() as uow:
            payment = await uow.get_payment(payment_id, client_id=client_id)
            if payment is None:
                raise PaymentNotFoundError(f"no payment {payment_id}")
            return await uow.chargebacks.of_payment(payment_id)

    async def apply_in(
        self, uow: UnitOfWork, payment_id: str, provider: str, event: DisputeEvent
    ) -> bool:
        """Apply a dispute report within ``uow``; ``True`` if it changed anything.

        A report of a dispute paymux has not seen opens it first (a missed ``opened``
        webhook). Reports are monotonic: ``opened`` after ``won`` changes nothing. Raises
        :class:`DisputeNotApplicableError` for another currency or an amount that is not
        positive.
        """
        payment = await uow.get_payment(payment_id, lock=True)
        assert payment is not None
        if event.amount.currency != payment.currency:
            raise DisputeNotApplicableError(
                f"dispute {event.dispute_id} is in {event.amount.currency}; "
                f"payment {payment.id} is in {payment.currency}"
            )
        if not event.amount.is_positive:
            raise DisputeNotApplicableError(f"dispute {event.dispute_id} has no amount")
        now = self._clock()
        chargeback = await uow.chargebacks.find(provider, event.dispute_id)
        changed = False
        if chargeback is None:
            chargeback = await self._open(uow, payment, event, now)
            changed = True
        target = next_dispute_status(chargeback.status, event.status)
        if target is not None and await uow.chargebacks.set_status(chargeback.id, target, now=now):
            await self._resolve(uow, payment, chargeback, target, now)
            changed = True
        return changed

    async def _open(
        self, uow: UnitOfWork, payment: PaymentEvent, event: DisputeEvent, now: datetime
    ) -> Chargeback:
        currency = payment.currency
        refunded = await uow.refunded_per_order(payment.id)
        held = await uow.chargebacks.held_per_order(payment.id)
        left = {
            order.id: order.amount.minor
            - sum(refunded.get(order.id, (0, 0)))
            - held.get(order.id, (0, 0))[0]
            for order in payment.orders
            if order.status is PaymentStatus.SUCCEEDED
        }
        left = {order_id: minor for order_id, minor in left.items() if minor > 0}
        allocated = min(event.amount, Money(sum(left.values()), currency))
        shares = allocate(allocated, list(left.values())) if left else []
        orders = {order.id: order for order in payment.orders}
        parts = tuple(
            ChargebackPart(order_id, share, released=orders[order_id].shipped_at is not None)
            for order_id, share in zip(left, shares, strict=True)
            if share.is_positive
        )
        chargeback = Chargeback(
            id=new_id("cb"),
            payment_event_id=payment.id,
            client_id=payment.client_id,
            provider=payment.provider,
            dispute_id=event.dispute_id,
            amount=event.amount,
            unallocated=event.amount - allocated,
            status=DisputeStatus.OPENED,
            reason=None if event.reason is None else event.reason[:255],
            parts=parts,
            created_at=now,
            updated_at=now,
        )
        await uow.chargebacks.insert(chargeback)
        available = await self._available(uow, payment, parts, orders, now)
        entries: list[JournalEntry] = []
        for part in parts:
            order = orders[part.payment_order_id]
            key = _available_key(payment, order)
            entry = self._ledger_entry(
                ChargebackOpened(
                    order=order_facts(payment, order),
                    chargeback_id=chargeback.id,
                    amount=part.amount,
                    released=part.released,
                    seller_available=available.get(key, Money.zero(currency)),
                )
            )
            for posting in entry.postings:  # later parts see what earlier ones took:
                if posting.account in available:  # a debit lowers a liability's balance
                    available[posting.account] -= posting.amount
            entries.append(entry)
        unallocated = _unallocated(chargeback, "opened", payment)
        if unallocated is not None:
            entries.append(self._ledger_entry(unallocated))
        await uow.ledger.record_all(payment.client_id, entries, now=now)
        await uow.add_outbox([_message("chargeback.opened", chargeback)], now=now)
        return chargeback

    async def _resolve(
        self,
        uow: UnitOfWork,
        payment: PaymentEvent,
        chargeback: Chargeback,
        status: DisputeStatus,
        now: datetime,
    ) -> None:
        orders = {order.id: order for order in payment.orders}
        events: list[LedgerEvent] = []
        for part in chargeback.parts:
            order = orders[part.payment_order_id]
            facts = order_facts(payment, order)
            if status is DisputeStatus.WON:
                released = order.shipped_at is not None
                events.append(ChargebackWon(facts, chargeback.id, part.amount, released))
            else:
                events.append(ChargebackLost(facts, chargeback.id, part.amount))
        unallocated = _unallocated(chargeback, status.value, payment)
        if unallocated is not None:
            events.append(unallocated)
        entries = [self._ledger_entry(event) for event in events]
        await uow.ledger.record_all(payment.client_id, entries, now=now)
        settled = await uow.chargebacks.get(chargeback.id)
        assert settled is not None
        await uow.add_outbox([_message(f"chargeback.{status.value}", settled)], now=now)

    @staticmethod
    async def _available(
        uow: UnitOfWork,
        payment: PaymentEvent,
        parts: tuple[ChargebackPart, ...],
        orders: dict[str, PaymentOrder],
        now: datetime,
    ) -> dict[AccountKey, Money]:
        keys = {_available_key(payment, orders[p.payment_order_id]) for p in parts if p.released}
        if not keys:
            return {}
        locked = await uow.ledger.locked_normal_balances(sorted(keys), now=now)
        return {key: locked.get(key, Money.zero(payment.currency)) for key in keys}


def _available_key(payment: PaymentEvent, order: PaymentOrder) -> AccountKey:
    return seller_account(
        payment.client_id, order.seller_id, Purpose.SELLER_AVAILABLE, payment.currency
    )


def _unallocated(
    chargeback: Chargeback, status: str, payment: PaymentEvent
) -> UnallocatedChargeback | None:
    """The platform's own exposure: no seller carries it, so for a converted payment it is
    booked wholly on the provider's side, in the settlement currency at the payment's quote.
    None when there is none, or when it converts to zero (nothing to post; the chargeback's
    state change still commits)."""
    amount = chargeback.unallocated
    if not amount.is_positive:
        return None
    if payment.fx_quote is not None:
        amount = convert(amount, payment.fx_quote)
        if amount.is_zero:
            return None
    return UnallocatedChargeback(
        client_id=chargeback.client_id,
        payment_id=chargeback.payment_event_id,
        provider=chargeback.provider,
        chargeback_id=chargeback.id,
        amount=amount,
        status=status,
    )


def _message(topic: str, chargeback: Chargeback) -> OutboxMessage:
    return OutboxMessage(
        topic=topic,
        key=chargeback.payment_event_id,
        payload={
            "chargeback_id": chargeback.id,
            "payment_id": chargeback.payment_event_id,
            "provider": chargeback.provider,
            "dispute_id": chargeback.dispute_id,
            "status": chargeback.status.value,
            "amount_minor": chargeback.amount.minor,
            "unallocated_minor": chargeback.unallocated.minor,
            "currency": chargeback.amount.currency,
            "parts": [
                {
                    "payment_order_id": p.payment_order_id,
                    "amount_minor": p.amount.minor,
                    "released": p.released,
                }
                for p in chargeback.parts
            ],
        },
    )
