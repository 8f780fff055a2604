"""The stored shape of payments, as plain immutable records (no ORM here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from paymux.core.domain.delivery import DeliveryEstimate
from paymux.core.domain.status import PaymentStatus
from paymux.core.fx.quotes import Quote
from paymux.currencies import Money


@dataclass(frozen=True, slots=True)
class PaymentOrder:
    """One seller's part of a payment event, with its own status."""

    id: str
    payment_event_id: str
    seller_id: str
    amount: Money
    commission: Money
    logistics_fee: Money
    reference: str
    status: PaymentStatus
    failure_code: str | None
    created_at: datetime
    updated_at: datetime
    shipped_at: datetime | None = None
    estimated_delivery: DeliveryEstimate | None = None
    """When the buyer should get this order, as the shop estimated it at checkout."""
    settlement_amount: Money | None = None
    """This order's share of the payment's settlement amount, in the settlement currency,
    when the payment converts (``None``: it settles in its own currency)."""


@dataclass(frozen=True, slots=True)
class PspRegistration:
    """What the provider said when the payment was registered with it."""

    payment_event_id: str
    provider: str
    psp_idempotency_key: str
    token: str | None
    psp_reference: str | None
    redirect_url: str | None
    psp_payment_id: str | None = None
    """The PSP's own id of the payment, when a status report gave one (see
    :class:`~paymux.core.ports.provider.ProviderEvent`)."""


@dataclass(frozen=True, slots=True)
class PaymentEvent:
    """A checkout: one buyer, one currency, one payment order per seller."""

    id: str
    client_id: str
    buyer_id: str
    currency: str
    country: str
    payment_method: str
    return_url: str
    provider: str
    created_at: datetime
    orders: tuple[PaymentOrder, ...]
    registration: PspRegistration | None
    buyer_email: str | None = field(default=None, repr=False)
    """Where the buyer's confirmation goes (personal data: never logged, never in an event)."""
    buyer_locale: str | None = None
    """The buyer's language tag for notifications (``de-DE``), if the shop gave one."""
    settlement_currency: str | None = None
    """The currency the provider settles the payment in (its provider account's
    ``settlement_currency``); ``None``: the payment's own (presentment) currency."""
    fx_quote: Quote | None = None
    """The quote (presentment to settlement currency) locked when the payment was created,
    when the two currencies differ; its orders then carry their ``settlement_amount``."""

    @property
    def total(self) -> Money:
        """The amount the buyer pays."""
        return Money.sum((order.amount for order in self.orders), self.currency)

    @property
    def settles_in(self) -> str:
        """The settlement currency (the presentment currency unless the payment converts)."""
        return self.settlement_currency or self.currency

    @property
    def settlement_total(self) -> Money | None:
        """What the provider settles, in the settlement currency, when the payment converts:
        the total converted once at the locked quote (the orders' shares sum to it)."""
        if self.fx_quote is None:
            return None
        return Money.sum(
            (order.settlement_amount or Money.zero(self.fx_quote.quote) for order in self.orders),
            self.fx_quote.quote,
        )

    @property
    def is_settled(self) -> bool:
        """Every order is in a terminal state."""
        return all(order.status.is_terminal for order in self.orders)

    @property
    def status(self) -> PaymentStatus:
        """The event's status, derived from its orders (one PSP payment moves them together).

        When orders disagree, the least advanced non-terminal status wins, so a payment is
        only terminal once every order is.
        """
        statuses = {order.status for order in self.orders}
        if len(statuses) == 1:
            return next(iter(statuses))
        for candidate in _AGGREGATE_PRECEDENCE:
            if candidate in statuses:
                return candidate
        return PaymentStatus.UNKNOWN


_AGGREGATE_PRECEDENCE = (
    PaymentStatus.UNKNOWN,
    PaymentStatus.NOT_STARTED,
    PaymentStatus.EXECUTING,
    PaymentStatus.PENDING,
    PaymentStatus.FAILED,
    PaymentStatus.CANCELED,
    PaymentStatus.EXPIRED,
    PaymentStatus.SUCCEEDED,
)


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """A client's idempotency key and what became of the request that first used it."""

    id: int
    client_id: str
    key: str
    fingerprint: str
    resource_id: str | None
    locked_at: datetime | None
    response_status: int | None
    response_body: str | None

    @property
    def completed(self) -> bool:
        """True once a final response is stored (it is replayed from then on)."""
        return self.response_status is not None


@dataclass(frozen=True, slots=True)
class OrderStatusChange:
    """One payment order moved from one status to another (committed)."""

    payment_event_id: str
    payment_order_id: str
    previous: PaymentStatus
    current: PaymentStatus
    failure_code: str | None
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """An event for other services, written in the same transaction as the change it reports."""

    topic: str
    key: str
    payload: dict[str, Any]
