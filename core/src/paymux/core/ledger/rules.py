"""The default posting rules: which accounts each business fact moves money between.

Each rule takes a ledger event and returns the journal entry to record. A plugin can replace
a rule through the ``paymux_ledger_entry`` first-result hook; these are the fallback.
"""

from __future__ import annotations

from dataclasses import dataclass

from paymux.core.ledger.accounts import (
    Purpose,
    clearing_account,
    platform_account,
    seller_account,
)
from paymux.core.ledger.journal import JournalEntry, credit, debit
from paymux.currencies import Money


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """What the rules need to know of a payment order."""

    client_id: str
    payment_id: str
    order_id: str
    seller_id: str
    provider: str
    amount: Money
    commission: Money
    logistics_fee: Money


@dataclass(frozen=True, slots=True)
class PaymentSucceeded:
    """The buyer's money for one order reached the provider."""

    order: OrderFacts


@dataclass(frozen=True, slots=True)
class ShipmentConfirmed:
    """The seller shipped: the order's money becomes releasable, minus the platform's fees."""

    order: OrderFacts


LedgerEvent = PaymentSucceeded | ShipmentConfirmed


def default_entry(event: LedgerEvent) -> JournalEntry:
    """The journal entry paymux records for ``event`` unless a plugin provides another."""
    order = event.order
    currency = order.amount.currency
    pending = seller_account(order.client_id, order.seller_id, Purpose.SELLER_PENDING, currency)
    metadata = {"payment_id": order.payment_id, "payment_order_id": order.order_id}
    if isinstance(event, PaymentSucceeded):
        return JournalEntry(
            reference=f"payment_succeeded:{order.order_id}",
            kind="payment_succeeded",
            postings=(
                debit(clearing_account(order.client_id, order.provider, currency), order.amount),
                credit(pending, order.amount),
            ),
            metadata=metadata,
        )
    seller_share = order.amount - order.commission - order.logistics_fee
    return JournalEntry(
        reference=f"shipment_confirmed:{order.order_id}",
        kind="shipment_confirmed",
        postings=(
            debit(pending, order.amount),
            credit(
                seller_account(
                    order.client_id, order.seller_id, Purpose.SELLER_AVAILABLE, currency
                ),
                seller_share,
            ),
            credit(
                platform_account(order.client_id, Purpose.COMMISSION, currency), order.commission
            ),
            credit(
                platform_account(order.client_id, Purpose.LOGISTICS_FEES, currency),
                order.logistics_fee,
            ),
        ),
        metadata=metadata,
    )
