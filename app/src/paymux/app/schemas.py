"""The API's request and response bodies. Amounts are decimal strings in major units."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from paymux.app.problems import Problem
from paymux.core.domain.checkout import CheckoutDraft, OrderDraft
from paymux.core.domain.models import PaymentEvent, PaymentOrder
from paymux.core.domain.status import PaymentStatus
from paymux.currencies import Money, MoneyError, get_active_currency

AmountText = Annotated[
    object,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$",
            "description": 'A decimal string in major units, e.g. "12.34"; '
            "at most as many decimals as the currency's ISO 4217 exponent.",
            "examples": ["12.34"],
        }
    ),
]
"""An amount as sent: checked by :func:`paymux.currencies.parse_amount`, so a JSON number,
too many decimals or exponent notation get a precise ``invalid-amount`` problem."""

_Id = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")]


class OrderIn(BaseModel):
    """One seller's order in a checkout."""

    model_config = ConfigDict(extra="forbid")

    seller_id: _Id
    amount: AmountText
    commission: AmountText = "0"
    logistics_fee: AmountText = "0"
    reference: _Id = Field(description="The shop's own reference of this order")


class PaymentIn(BaseModel):
    """``POST /v1/payments``: a checkout, with one order per seller."""

    model_config = ConfigDict(extra="forbid")

    buyer_id: _Id
    currency: str = Field(description="ISO 4217 code, upper case", examples=["EUR"])
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 of the buyer")
    payment_method: str = Field(default="card", pattern=r"^[a-z_]{1,32}$")
    return_url: str = Field(
        max_length=2048,
        pattern=r"^https?://",
        description="Where the buyer goes after the payment (linked from the status page)",
    )
    orders: list[OrderIn] = Field(max_length=100)

    def to_draft(self) -> CheckoutDraft:
        """The domain's checkout; raises money and checkout errors with the field's name."""
        try:
            currency = get_active_currency(self.currency).code
        except MoneyError as error:
            raise Problem(error.code, str(error), pointer="/currency") from None
        return CheckoutDraft(
            buyer_id=self.buyer_id,
            currency=currency,
            country=self.country,
            payment_method=self.payment_method,
            return_url=self.return_url,
            orders=tuple(
                OrderDraft(
                    seller_id=order.seller_id,
                    amount=_money(order.amount, currency, f"orders[{i}].amount"),
                    commission=_money(order.commission, currency, f"orders[{i}].commission"),
                    logistics_fee=_money(
                        order.logistics_fee, currency, f"orders[{i}].logistics_fee"
                    ),
                    reference=order.reference,
                )
                for i, order in enumerate(self.orders)
            ),
        )


def _money(value: Any, currency: str, where: str) -> Money:
    try:
        return Money.parse(value, currency)
    except MoneyError as error:
        pointer = "/" + where.replace("[", "/").replace("].", "/")
        raise Problem(error.code, f"{where}: {error}", pointer=pointer) from None


class OrderOut(BaseModel):
    """A payment order as the API shows it."""

    id: str
    seller_id: str
    reference: str
    amount: str
    commission: str
    logistics_fee: str
    status: PaymentStatus
    failure_code: str | None


class NextAction(BaseModel):
    """What the buyer must do next while the payment is pending."""

    type: str = Field(examples=["redirect"])
    url: str


class PaymentOut(BaseModel):
    """A payment as the API shows it."""

    id: str
    status: PaymentStatus
    currency: str
    amount: str
    country: str
    payment_method: str
    buyer_id: str
    provider: str
    redirect_url: str | None = Field(description="The provider's hosted payment page")
    status_page_url: str = Field(description="The buyer's status page for this payment")
    next_action: NextAction | None
    orders: list[OrderOut]
    created_at: datetime

    @classmethod
    def of(cls, payment: PaymentEvent, *, status_page_url: str) -> PaymentOut:
        """Render a payment."""
        redirect = payment.registration.redirect_url if payment.registration else None
        status = payment.status
        waiting = status in {PaymentStatus.PENDING, PaymentStatus.EXECUTING}
        return cls(
            id=payment.id,
            status=status,
            currency=payment.currency,
            amount=payment.total.amount_str,
            country=payment.country,
            payment_method=payment.payment_method,
            buyer_id=payment.buyer_id,
            provider=payment.provider,
            redirect_url=redirect,
            status_page_url=status_page_url,
            next_action=NextAction(type="redirect", url=redirect) if waiting and redirect else None,
            orders=[_order_out(order) for order in payment.orders],
            created_at=payment.created_at,
        )


def _order_out(order: PaymentOrder) -> OrderOut:
    return OrderOut(
        id=order.id,
        seller_id=order.seller_id,
        reference=order.reference,
        amount=order.amount.amount_str,
        commission=order.commission.amount_str,
        logistics_fee=order.logistics_fee.amount_str,
        status=order.status,
        failure_code=order.failure_code,
    )


class WebhookAck(BaseModel):
    """The answer to a provider's webhook."""

    received: int
    applied: int
    duplicates: int
    unchanged: int


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its ``$defs`` inlined, to embed in an OpenAPI document."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            reference = node.get("$ref")
            if isinstance(reference, str) and reference.startswith("#/$defs/"):
                return resolve(definitions[reference.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved
