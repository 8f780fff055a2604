"""Shipment: the seller shipped, so the order's money is released minus the platform's fees."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from paymux.core.domain.errors import (
    OrderAlreadyShippedError,
    OrderFullyRefundedError,
    OrderNotShippableError,
    PaymentOrderNotFoundError,
)
from paymux.core.domain.models import OutboxMessage
from paymux.core.domain.status import PaymentStatus
from paymux.core.identifiers import utc_now
from paymux.core.ledger.journal import JournalEntry
from paymux.core.ledger.rules import (
    LedgerEvent,
    ShipmentConfirmed,
    default_entry,
    release_shares,
)
from paymux.core.services.idempotency import IdempotentRequest, StoredResponse, run_once
from paymux.core.services.payments import order_facts
from paymux.core.storage.unit_of_work import PaymentStore, UnitOfWork
from paymux.currencies import Money


@dataclass(frozen=True, slots=True)
class Shipment:
    """A confirmed shipment and the money it released."""

    payment_id: str
    payment_order_id: str
    seller_id: str
    shipped_at: datetime
    released: Money
    commission: Money
    logistics_fee: Money
    ledger_transaction_id: str | None
    """``None`` when open or lost chargebacks hold the whole order: nothing is released."""


class ShipmentService:
    """Confirms shipments: one database transaction for the order, its postings and events."""

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

    async def confirm_shipment(
        self,
        request: IdempotentRequest,
        order_id: str,
        render: Callable[[Shipment], str],
    ) -> StoredResponse:
        """Release a succeeded order's money to the seller's available balance.

        What was refunded before, or taken by chargebacks opened before (open or lost), is
        not released; commission and logistics fee shrink in proportion. Idempotent on the
        request's key. Raises :class:`PaymentOrderNotFoundError`,
        :class:`OrderNotShippableError` (not succeeded), :class:`OrderAlreadyShippedError` or
        :class:`OrderFullyRefundedError`; then nothing is written.
        """
        now = self._clock()

        async def ship(uow: UnitOfWork) -> tuple[int, str]:
            shipment = await self._ship(uow, request.client_id, order_id, now)
            return 201, render(shipment)

        return await run_once(self._store, request, resource_id=order_id, now=now, work=ship)

    async def _ship(
        self, uow: UnitOfWork, client_id: str, order_id: str, now: datetime
    ) -> Shipment:
        payment_id = await uow.find_payment_id_by_order(order_id, client_id=client_id)
        payment = None if payment_id is None else await uow.get_payment(payment_id, lock=True)
        order = next((o for o in payment.orders if o.id == order_id), None) if payment else None
        if payment is None or order is None:
            raise PaymentOrderNotFoundError(f"no payment order {order_id}")
        if order.status is not PaymentStatus.SUCCEEDED:
            raise OrderNotShippableError(
                f"payment order {order_id} is {order.status.value}; only a succeeded order ships"
            )
        if not await uow.mark_order_shipped(order.id, now=now):
            raise OrderAlreadyShippedError(f"payment order {order_id} was shipped before")
        done, _pending = (await uow.refunded_per_order(payment.id)).get(order.id, (0, 0))
        refunded = Money(done, payment.currency)
        if refunded >= order.amount:
            raise OrderFullyRefundedError(f"payment order {order_id} was refunded in full")
        _held, disputed = (await uow.chargebacks.held_per_order(payment.id)).get(order.id, (0, 0))
        withheld = refunded + Money(disputed, payment.currency)
        facts = order_facts(payment, order)
        released, commission, fee = release_shares(facts, order.amount - withheld)
        transaction_id: str | None = None
        if withheld < order.amount:  # else chargebacks hold it all: a win releases it later
            entry = self._ledger_entry(ShipmentConfirmed(facts, refunded=withheld))
            transaction_id = await uow.ledger.record(client_id, entry, now=now)
            if transaction_id is None:  # the order's shipped_at guard makes this unreachable
                raise OrderAlreadyShippedError(f"payment order {order_id} was released before")
        shipment = Shipment(
            payment_id=payment.id,
            payment_order_id=order.id,
            seller_id=order.seller_id,
            shipped_at=now,
            released=released,
            commission=commission,
            logistics_fee=fee,
            ledger_transaction_id=transaction_id,
        )
        await uow.add_outbox(
            [
                OutboxMessage(
                    topic="payment_order.shipped",
                    key=payment.id,
                    payload={
                        "payment_id": payment.id,
                        "payment_order_id": order.id,
                        "seller_id": order.seller_id,
                        "released_minor": shipment.released.minor,
                        "currency": shipment.released.currency,
                        "ledger_transaction_id": transaction_id,
                    },
                )
            ],
            now=now,
        )
        return shipment
