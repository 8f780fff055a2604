"""A checkout as the buyer's side asks for it: one payment event with one order per seller."""

from __future__ import annotations

from dataclasses import dataclass, field

from paymux.core.domain.buyer_contact import email_problem, locale_problem
from paymux.core.domain.delivery import DeliveryEstimate
from paymux.core.domain.errors import InvalidCheckoutError
from paymux.currencies import Money


@dataclass(frozen=True, slots=True)
class OrderDraft:
    """One seller's part of a checkout."""

    seller_id: str
    amount: Money
    commission: Money
    logistics_fee: Money
    reference: str
    estimated_delivery: DeliveryEstimate | None = None
    """When the buyer should get this order (told in the buyer's confirmation)."""


@dataclass(frozen=True, slots=True)
class CheckoutDraft:
    """A validated request for a payment event, not yet stored."""

    buyer_id: str
    currency: str
    country: str
    payment_method: str
    return_url: str
    orders: tuple[OrderDraft, ...]
    buyer_email: str | None = field(default=None, repr=False)
    """Where to confirm the payment (personal data: kept out of logs and events)."""
    buyer_locale: str | None = None
    """The buyer's language tag (``de-DE``), for localized notifications."""

    def __post_init__(self) -> None:
        if not self.orders:
            raise InvalidCheckoutError("a payment needs at least one order")
        if self.buyer_email is not None and (problem := email_problem(self.buyer_email)):
            raise InvalidCheckoutError(f"buyer_email {problem}")
        if self.buyer_locale is not None and (problem := locale_problem(self.buyer_locale)):
            raise InvalidCheckoutError(f"buyer_locale {problem}")
        references = [order.reference for order in self.orders]
        if len(set(references)) != len(references):
            raise InvalidCheckoutError("each order needs its own reference")
        for index, order in enumerate(self.orders):
            for name, money in (
                ("amount", order.amount),
                ("commission", order.commission),
                ("logistics_fee", order.logistics_fee),
            ):
                if money.currency != self.currency:
                    raise InvalidCheckoutError(
                        f"orders[{index}].{name} is in {money.currency}, "
                        f"the payment is in {self.currency}"
                    )
            if not order.amount.is_positive:
                raise InvalidCheckoutError(f"orders[{index}].amount must be greater than zero")
            if order.commission.is_negative or order.logistics_fee.is_negative:
                raise InvalidCheckoutError(
                    f"orders[{index}]: commission and logistics_fee must not be negative"
                )
            if order.commission + order.logistics_fee > order.amount:
                raise InvalidCheckoutError(
                    f"orders[{index}]: commission plus logistics_fee exceeds the order amount"
                )

    @property
    def total(self) -> Money:
        """What the buyer pays: the sum of the orders."""
        return Money.sum((order.amount for order in self.orders), self.currency)
