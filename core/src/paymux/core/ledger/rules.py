"""The default posting rules: which accounts each business fact moves money between.

Each rule takes a ledger event and returns the journal entry to record. A plugin can replace
a rule through the ``paymux_ledger_entry`` first-result hook; these are the fallback.
"""

from __future__ import annotations

from dataclasses import dataclass

from paymux.core.fx.settlement import settlement_share
from paymux.core.ledger.accounts import (
    Purpose,
    clearing_account,
    disputed_account,
    platform_account,
    seller_account,
)
from paymux.core.ledger.journal import JournalEntry, Posting, credit, debit
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
    settlement: Money | None = None
    """The order's settlement amount when its payment converts (the provider's side then
    moves in that currency, at the payment's quote); ``None``: no conversion."""

    def provider_side(self, amount: Money, *, prior: Money | None = None) -> Money:
        """What ``amount`` of the order is on the provider's side: itself, or for a converted
        payment its share of the settlement amount (:func:`settlement_share`), allocated
        after ``prior`` of the order already moved."""
        if self.settlement is None:
            return amount
        return settlement_share(amount, self.amount, self.settlement, prior=prior)


@dataclass(frozen=True, slots=True)
class PaymentSucceeded:
    """The buyer's money for one order reached the provider."""

    order: OrderFacts


@dataclass(frozen=True, slots=True)
class ShipmentConfirmed:
    """The seller shipped: the order's money becomes releasable, minus the platform's fees.

    ``refunded`` is what left the order's pending money before the shipment (refunds, and
    chargebacks open or lost): only the rest is released, and commission and logistics fee
    shrink in proportion.
    """

    order: OrderFacts
    refunded: Money | None = None


@dataclass(frozen=True, slots=True)
class RefundSucceeded:
    """The provider refunded ``amount`` of one order to the buyer.

    ``released`` says whether the order had shipped (its money left the seller's pending
    balance); ``seller_available`` is the seller's available balance at that moment, so a
    shortfall can be recorded as a receivable instead of a negative balance.
    ``refunded_before`` is what earlier refunds of the order gave back (in the order's
    currency): a converted order's provider side is allocated cumulatively after it.
    """

    order: OrderFacts
    refund_id: str
    amount: Money
    released: bool
    seller_available: Money
    refunded_before: Money | None = None


@dataclass(frozen=True, slots=True)
class ChargebackOpened:
    """The provider withdrew ``amount`` of one order for a chargeback; the money is frozen.

    ``released`` and ``seller_available`` as for :class:`RefundSucceeded`: a released order's
    share is taken like a refund after release (seller, commission and logistics fee in the
    order's proportions; a shortfall of the seller's available money becomes a receivable).
    """

    order: OrderFacts
    chargeback_id: str
    amount: Money
    released: bool
    seller_available: Money


@dataclass(frozen=True, slots=True)
class ChargebackWon:
    """The platform won: the provider returns ``amount`` and the frozen money goes back.

    ``released`` says whether the order is released *now*: its share then goes to the
    seller's available money and the platform's fees (as a shipment would release it),
    otherwise back to the seller's pending money.
    """

    order: OrderFacts
    chargeback_id: str
    amount: Money
    released: bool


@dataclass(frozen=True, slots=True)
class ChargebackLost:
    """The buyer won: the frozen money is gone for good."""

    order: OrderFacts
    chargeback_id: str
    amount: Money


@dataclass(frozen=True, slots=True)
class UnallocatedChargeback:
    """A chargeback's excess over what the payment's orders still held (say, a dispute of
    money already refunded): the platform's own exposure, with no seller involved.

    ``status`` is ``opened``, ``won`` or ``lost``.
    """

    client_id: str
    payment_id: str
    provider: str
    chargeback_id: str
    amount: Money
    status: str


@dataclass(frozen=True, slots=True)
class PspFeeCharged:
    """A provider charged the platform a fee (booked by reconciliation from settlements).

    ``reference`` identifies the fee at the provider (a settlement line), so booking the
    same file twice records the fee once.
    """

    client_id: str
    provider: str
    fee: Money
    reference: str
    payment_id: str | None = None


@dataclass(frozen=True, slots=True)
class SettlementPaidOut:
    """A provider paid its balance out to the platform's bank (booked by reconciliation).

    ``reference`` identifies the payout at the provider (a settlement batch and currency),
    so booking the same file twice records the payout once.
    """

    client_id: str
    provider: str
    amount: Money
    reference: str


@dataclass(frozen=True, slots=True)
class FxSettled:
    """A provider settled a converted payment: what it settled (net plus fee, in the
    settlement currency) differs from the payment's settlement amount at the locked quote
    by ``difference`` (positive: it settled more, a gain; negative: a loss). Booked by
    reconciliation; ``reference`` names what was settled (``capture:<payment id>:<currency>``
    for a payment's capture, ``refund:<refund id>:<currency>`` for a refund of it, where
    ``difference`` compares with the provider-side amount the refund posted,
    ``chargeback:<chargeback id>:<currency>`` and
    ``chargeback_reversal:<chargeback id>:<currency>`` for a chargeback of it, compared with
    what the chargeback posted to the provider's clearing when opened and when won), so each
    books once, whichever line lists it.
    """

    client_id: str
    provider: str
    payment_id: str
    difference: Money
    reference: str


@dataclass(frozen=True, slots=True)
class PayoutFacts:
    """What the rules need to know of a payout.

    ``amount`` leaves the seller's available money; ``payout_amount``, when the payout
    converts, is what the seller is paid in another currency (at the payout's locked quote).
    """

    client_id: str
    seller_id: str
    provider: str
    payout_id: str
    amount: Money
    payout_amount: Money | None = None

    def __post_init__(self) -> None:
        if self.payout_amount is not None and self.payout_amount.currency == self.amount.currency:
            raise ValueError("a converted payout pays out in another currency")

    @property
    def sent(self) -> Money:
        """What the provider pays the seller (in the payout currency)."""
        return self.amount if self.payout_amount is None else self.payout_amount


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


@dataclass(frozen=True, slots=True)
class LatePayment:
    """A buyer paid a payment paymux had expired (``received``), and the automatic refund
    of that money went through (``refunded``). No order carries it: it is owed to the buyer.
    """

    client_id: str
    payment_id: str
    provider: str
    amount: Money
    status: str
    """``received`` or ``refunded``."""


PayoutEvent = ReceivableRecovered | PayoutInitiated | PayoutPaid | PayoutFailed
ChargebackEvent = ChargebackOpened | ChargebackWon | ChargebackLost
OrderEvent = PaymentSucceeded | ShipmentConfirmed | RefundSucceeded | ChargebackEvent
PlatformEvent = UnallocatedChargeback | PspFeeCharged | LatePayment | SettlementPaidOut | FxSettled
LedgerEvent = OrderEvent | PayoutEvent | PlatformEvent


def release_shares(order: OrderFacts, amount: Money) -> tuple[Money, Money, Money]:
    """Split ``amount`` of an order into seller, commission and logistics fee shares.

    In the order's own proportions, exactly (allocation): the parts always sum to ``amount``.
    """
    seller_base = order.amount - order.commission - order.logistics_fee
    seller, commission, fee = allocate(
        amount, [seller_base.minor, order.commission.minor, order.logistics_fee.minor]
    )
    return seller, commission, fee


def _conversion(
    order: OrderFacts, amount: Money, provider_side: Money, *, incoming: bool
) -> tuple[Posting, ...]:
    """The two FX position postings that balance a move of ``amount`` (presentment currency)
    against ``provider_side`` (settlement currency); none when the order does not convert.

    ``incoming``: money reaches the provider's side (a payment): the position in the
    settlement currency is credited and the one in the presentment currency debited;
    leaving it (a refund, a lost chargeback) the other way round."""
    if provider_side.currency == amount.currency:
        return ()
    client = order.client_id
    settled = platform_account(client, Purpose.FX_CONVERSION, provider_side.currency)
    presented = platform_account(client, Purpose.FX_CONVERSION, amount.currency)
    if incoming:
        return (credit(settled, provider_side), debit(presented, amount))
    return (debit(settled, provider_side), credit(presented, amount))


def default_entry(event: LedgerEvent) -> JournalEntry:
    """The journal entry paymux records for ``event`` unless a plugin provides another."""
    if isinstance(event, ReceivableRecovered | PayoutInitiated | PayoutPaid | PayoutFailed):
        return _payout_entry(event)
    if isinstance(
        event, UnallocatedChargeback | PspFeeCharged | LatePayment | SettlementPaidOut | FxSettled
    ):
        return _platform_entry(event)
    if isinstance(event, ChargebackOpened | ChargebackWon | ChargebackLost):
        return _chargeback_entry(event)
    order = event.order
    currency = order.amount.currency
    client = order.client_id
    pending = seller_account(client, order.seller_id, Purpose.SELLER_PENDING, currency)
    available = seller_account(client, order.seller_id, Purpose.SELLER_AVAILABLE, currency)
    commission_account = platform_account(client, Purpose.COMMISSION, currency)
    fees_account = platform_account(client, Purpose.LOGISTICS_FEES, currency)
    metadata = {"payment_id": order.payment_id, "payment_order_id": order.order_id}
    if isinstance(event, PaymentSucceeded):
        received = order.provider_side(order.amount)
        clearing = clearing_account(client, order.provider, received.currency)
        return JournalEntry(
            reference=f"payment_succeeded:{order.order_id}",
            kind="payment_succeeded",
            postings=(
                debit(clearing, received),
                *_conversion(order, order.amount, received, incoming=True),
                credit(pending, order.amount),
            ),
            metadata=metadata,
        )
    if isinstance(event, RefundSucceeded):
        reference = f"refund_succeeded:{event.refund_id}:{order.order_id}"
        metadata = {**metadata, "refund_id": event.refund_id}
        given = order.provider_side(event.amount, prior=event.refunded_before)
        clearing = clearing_account(client, order.provider, given.currency)
        converted = _conversion(order, event.amount, given, incoming=False)
        if not event.released:
            return JournalEntry(
                reference=reference,
                kind="refund_before_release",
                postings=(debit(pending, event.amount), credit(clearing, given), *converted),
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
                credit(clearing, given),
                *converted,
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
    metadata = {"payout_id": payout.payout_id, "seller_id": seller}
    if isinstance(event, ReceivableRecovered):
        receivable = seller_account(client, seller, Purpose.SELLER_RECEIVABLE, currency)
        return JournalEntry(
            reference=f"receivable_recovered:{payout.payout_id}",
            kind="receivable_recovered",
            postings=(debit(available, event.recovered), credit(receivable, event.recovered)),
            metadata=metadata,
        )
    sent = payout.sent
    in_transit = seller_account(client, seller, Purpose.SELLER_PAYOUT_IN_TRANSIT, sent.currency)
    postings: tuple[Posting, ...]
    legs: tuple[Posting, ...]
    if isinstance(event, PayoutPaid):
        kind = "payout_paid"
        clearing = clearing_account(client, payout.provider, sent.currency)
        postings = (debit(in_transit, sent), credit(clearing, sent))
    else:
        # Initiated: available -> in transit, through the platform's FX position in each
        # currency when the payout converts. Failed: the exact reverse, at the same quote.
        if payout.payout_amount is None:
            legs = (debit(available, payout.amount), credit(in_transit, payout.amount))
        else:
            given = platform_account(client, Purpose.FX_CONVERSION, currency)
            got = platform_account(client, Purpose.FX_CONVERSION, sent.currency)
            legs = (
                debit(available, payout.amount),
                credit(given, payout.amount),
                debit(got, sent),
                credit(in_transit, sent),
            )
        if isinstance(event, PayoutInitiated):
            kind, postings = "payout_initiated", legs
        else:
            kind = "payout_reversed"
            postings = tuple(Posting(leg.account, -leg.amount) for leg in reversed(legs))
    return JournalEntry(
        reference=f"{kind}:{payout.payout_id}",
        kind=kind,
        postings=postings,
        metadata=metadata,
    )


def _platform_entry(event: PlatformEvent) -> JournalEntry:
    if isinstance(event, FxSettled):
        return _fx_settled_entry(event)
    if isinstance(event, LatePayment):
        clearing = clearing_account(event.client_id, event.provider, event.amount.currency)
        owed = platform_account(event.client_id, Purpose.LATE_PAYMENTS, event.amount.currency)
        source, target = (clearing, owed) if event.status == "received" else (owed, clearing)
        return JournalEntry(
            reference=f"late_payment_{event.status}:{event.payment_id}",
            kind=f"late_payment_{event.status}",
            postings=(debit(source, event.amount), credit(target, event.amount)),
            metadata={"payment_id": event.payment_id},
        )
    if isinstance(event, SettlementPaidOut | PspFeeCharged):
        return _settlement_entry(event)
    amount, client = event.amount, event.client_id
    clearing = clearing_account(client, event.provider, amount.currency)
    disputed = disputed_account(client, event.provider, amount.currency)
    losses = platform_account(client, Purpose.CHARGEBACK_LOSSES, amount.currency)
    postings = {
        "opened": (debit(disputed, amount), credit(clearing, amount)),
        "won": (debit(clearing, amount), credit(disputed, amount)),
        "lost": (debit(losses, amount), credit(disputed, amount)),
    }[event.status]
    return JournalEntry(
        reference=f"chargeback_{event.status}:{event.chargeback_id}:unallocated",
        kind=f"chargeback_{event.status}",
        postings=postings,
        metadata={"payment_id": event.payment_id, "chargeback_id": event.chargeback_id},
    )


def _fx_settled_entry(event: FxSettled) -> JournalEntry:
    """A gain: PSP clearing <- FX gain/loss; a loss: FX gain/loss <- PSP clearing (both in the
    settlement currency)."""
    money = event.difference
    clearing = clearing_account(event.client_id, event.provider, money.currency)
    gain_loss = platform_account(event.client_id, Purpose.FX_GAIN_LOSS, money.currency)
    size = -money if money.is_negative else money
    postings = (
        (debit(gain_loss, size), credit(clearing, size))
        if money.is_negative
        else (debit(clearing, size), credit(gain_loss, size))
    )
    return JournalEntry(
        reference=f"fx_settled:{event.provider}:{event.reference}",
        kind="fx_settled",
        postings=postings,
        metadata={"payment_id": event.payment_id, "provider_reference": event.reference},
    )


def _settlement_entry(event: SettlementPaidOut | PspFeeCharged) -> JournalEntry:
    """Fees: fees expense <- PSP clearing; payouts: bank <- PSP clearing. A negative total
    (fees given back, a payout reversed) books the same accounts the other way round."""
    client, provider = event.client_id, event.provider
    if isinstance(event, PspFeeCharged):
        money = event.fee
        target = platform_account(client, Purpose.PSP_FEES, money.currency)
        reference, kind = f"psp_fee:{provider}:{event.reference}", "psp_fee"
        metadata = {"payment_id": event.payment_id, "provider_reference": event.reference}
    else:
        money = event.amount
        target = platform_account(client, Purpose.BANK, money.currency)
        reference, kind = f"settlement_payout:{provider}:{event.reference}", "settlement_payout"
        metadata = {"provider_reference": event.reference}
    clearing = clearing_account(client, provider, money.currency)
    size = -money if money.is_negative else money
    postings = (
        (debit(clearing, size), credit(target, size))
        if money.is_negative
        else (debit(target, size), credit(clearing, size))
    )
    return JournalEntry(reference=reference, kind=kind, postings=postings, metadata=metadata)


def _chargeback_entry(event: ChargebackEvent) -> JournalEntry:
    order, amount = event.order, event.amount
    currency, client, seller_id = amount.currency, order.client_id, order.seller_id
    pending = seller_account(client, seller_id, Purpose.SELLER_PENDING, currency)
    available = seller_account(client, seller_id, Purpose.SELLER_AVAILABLE, currency)
    frozen = seller_account(client, seller_id, Purpose.SELLER_DISPUTED, currency)
    withdrawn = order.provider_side(amount)  # the provider's side, in its currency
    clearing = clearing_account(client, order.provider, withdrawn.currency)
    disputed = disputed_account(client, order.provider, withdrawn.currency)
    commission_account = platform_account(client, Purpose.COMMISSION, currency)
    fees_account = platform_account(client, Purpose.LOGISTICS_FEES, currency)
    metadata = {
        "payment_id": order.payment_id,
        "payment_order_id": order.order_id,
        "chargeback_id": event.chargeback_id,
    }
    seller, commission, fee = release_shares(order, amount)
    postings: tuple[Posting, ...]
    seller_side: tuple[Posting, ...]
    returned: tuple[Posting, ...]
    if isinstance(event, ChargebackOpened):
        kind = "chargeback_opened"
        if event.released:
            from_available = min(seller, max(event.seller_available, Money.zero(currency)))
            receivable = seller_account(client, seller_id, Purpose.SELLER_RECEIVABLE, currency)
            seller_side = (
                debit(available, from_available),
                debit(receivable, seller - from_available),
                debit(commission_account, commission),
                debit(fees_account, fee),
            )
        else:
            seller_side = (debit(pending, amount),)
        postings = (
            *seller_side,
            credit(frozen, amount),
            debit(disputed, withdrawn),
            credit(clearing, withdrawn),
        )
    elif isinstance(event, ChargebackWon):
        kind = "chargeback_won"
        if event.released:
            returned = (
                credit(available, seller),
                credit(commission_account, commission),
                credit(fees_account, fee),
            )
        else:
            returned = (credit(pending, amount),)
        postings = (debit(clearing, withdrawn), credit(disputed, withdrawn), debit(frozen, amount))
        postings = (*postings, *returned)
    else:
        kind = "chargeback_lost"
        postings = (
            debit(frozen, amount),
            credit(disputed, withdrawn),
            *_conversion(order, amount, withdrawn, incoming=False),
        )
    return JournalEntry(
        reference=f"{kind}:{event.chargeback_id}:{order.order_id}",
        kind=kind,
        postings=postings,
        metadata=metadata,
    )
