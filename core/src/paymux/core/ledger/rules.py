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
from paymux.currencies import Money, allocate


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
    """The seller shipped: the order's money becomes releasable, minus the platform's fees.

    ``refunded`` is what was refunded from the order before the shipment: only the rest is
    released, and commission and logistics fee shrink in proportion.
    """

    order: OrderFacts
    refunded: Money | None = None


@dataclass(frozen=True, slots=True)
class RefundSucceeded:
    """The provider refunded ``amount`` of one order to the buyer.

    ``released`` says whether the order had shipped (its money left the seller's pending
    balance); ``seller_available`` is the seller's available balance at that moment, so a
    shortfall can be recorded as a receivable instead of a negative balance.
    """

    order: OrderFacts
    refund_id: str
    amount: Money
    released: bool
    seller_available: Money


@dataclass(frozen=True, slots=True)
class PayoutFacts:
    """What the rules need to know of a payout."""

    client_id: str
    seller_id: str
    provider: str
    payout_id: str
    amount: Money


@dataclass(frozen=True, slots=True)
class ReceivableRecovered:
    """Before a payout, what the seller owes (a receivable) is taken from their available money."""

    payout: PayoutFacts
    recovered: Money


@dataclass(frozen=True, slots=True)
class PayoutInitiated:
    """The payout left the seller's available balance and is on its way."""

    payout: PayoutFacts


@dataclass(frozen=True, slots=True)
class PayoutPaid:
    """The provider paid the seller: the money leaves the provider's clearing balance."""

    payout: PayoutFacts


@dataclass(frozen=True, slots=True)
class PayoutFailed:
    """The payout failed: it is reversed to the seller's available balance."""

    payout: PayoutFacts


PayoutEvent = ReceivableRecovered | PayoutInitiated | PayoutPaid | PayoutFailed
OrderEvent = PaymentSucceeded | ShipmentConfirmed | RefundSucceeded
LedgerEvent = OrderEvent | PayoutEvent


def release_shares(order: OrderFacts, amount: Money) -> tuple[Money, Money, Money]:
    """Split ``amount`` of an order into seller, commission and logistics fee shares.

    In the order's own proportions, exactly (allocation): the parts always sum to ``amount``.
    """
    seller_base = order.amount - order.commission - order.logistics_fee
    seller, commission, fee = allocate(
        amount, [seller_base.minor, order.commission.minor, order.logistics_fee.minor]
    )
    return seller, commission, fee


def default_entry(event: LedgerEvent) -> JournalEntry:
    """The journal entry paymux records for ``event`` unless a plugin provides another."""
    if isinstance(event, ReceivableRecovered | PayoutInitiated | PayoutPaid | PayoutFailed):
        return _payout_entry(event)
    order = event.order
    currency = order.amount.currency
    client = order.client_id
    pending = seller_account(client, order.seller_id, Purpose.SELLER_PENDING, currency)
    available = seller_account(client, order.seller_id, Purpose.SELLER_AVAILABLE, currency)
    clearing = clearing_account(client, order.provider, currency)
    commission_account = platform_account(client, Purpose.COMMISSION, currency)
    fees_account = platform_account(client, Purpose.LOGISTICS_FEES, currency)
    metadata = {"payment_id": order.payment_id, "payment_order_id": order.order_id}
    if isinstance(event, PaymentSucceeded):
        return JournalEntry(
            reference=f"payment_succeeded:{order.order_id}",
            kind="payment_succeeded",
            postings=(debit(clearing, order.amount), credit(pending, order.amount)),
            metadata=metadata,
        )
    if isinstance(event, RefundSucceeded):
        reference = f"refund_succeeded:{event.refund_id}:{order.order_id}"
        metadata = {**metadata, "refund_id": event.refund_id}
        if not event.released:
            return JournalEntry(
                reference=reference,
                kind="refund_before_release",
                postings=(debit(pending, event.amount), credit(clearing, event.amount)),
                metadata=metadata,
            )
        seller, commission, fee = release_shares(order, event.amount)
        from_available = min(seller, max(event.seller_available, Money.zero(currency)))
        receivable = seller_account(client, order.seller_id, Purpose.SELLER_RECEIVABLE, currency)
        return JournalEntry(
            reference=reference,
            kind="refund_after_release",
            postings=(
                debit(available, from_available),
                debit(receivable, seller - from_available),
                debit(commission_account, commission),
                debit(fees_account, fee),
                credit(clearing, event.amount),
            ),
            metadata=metadata,
        )
    net = order.amount - (event.refunded or Money.zero(currency))
    seller, commission, fee = release_shares(order, net)
    return JournalEntry(
        reference=f"shipment_confirmed:{order.order_id}",
        kind="shipment_confirmed",
        postings=(
            debit(pending, net),
            credit(available, seller),
            credit(commission_account, commission),
            credit(fees_account, fee),
        ),
        metadata=metadata,
    )


def _payout_entry(event: PayoutEvent) -> JournalEntry:
    payout = event.payout
    currency = payout.amount.currency
    client, seller = payout.client_id, payout.seller_id
    available = seller_account(client, seller, Purpose.SELLER_AVAILABLE, currency)
    in_transit = seller_account(client, seller, Purpose.SELLER_PAYOUT_IN_TRANSIT, currency)
    metadata = {"payout_id": payout.payout_id, "seller_id": seller}
    if isinstance(event, ReceivableRecovered):
        receivable = seller_account(client, seller, Purpose.SELLER_RECEIVABLE, currency)
        return JournalEntry(
            reference=f"receivable_recovered:{payout.payout_id}",
            kind="receivable_recovered",
            postings=(debit(available, event.recovered), credit(receivable, event.recovered)),
            metadata=metadata,
        )
    if isinstance(event, PayoutInitiated):
        source, target, kind = available, in_transit, "payout_initiated"
    elif isinstance(event, PayoutPaid):
        source = in_transit
        target = clearing_account(client, payout.provider, currency)
        kind = "payout_paid"
    else:
        source, target, kind = in_transit, available, "payout_reversed"
    return JournalEntry(
        reference=f"{kind}:{payout.payout_id}",
        kind=kind,
        postings=(debit(source, payout.amount), credit(target, payout.amount)),
        metadata=metadata,
    )
