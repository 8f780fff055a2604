"""The API's request and response bodies. Amounts are decimal strings in major units."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from paymux.app.localization import Localizable
from paymux.app.problems import Problem
from paymux.core.domain.buyer_contact import (
    EMAIL_MAX_LENGTH,
    EMAIL_PATTERN,
    LOCALE_MAX_LENGTH,
    LOCALE_PATTERN,
)
from paymux.core.domain.checkout import CheckoutDraft, OrderDraft
from paymux.core.domain.delivery import (
    DELIVERY_PATTERN,
    DeliveryEstimate,
    InvalidDeliveryEstimateError,
)
from paymux.core.domain.models import PaymentEvent, PaymentOrder
from paymux.core.domain.payouts import Payout, PayoutStatus
from paymux.core.domain.refunds import Refund, RefundStatus
from paymux.core.domain.status import PaymentStatus
from paymux.core.fx.quotes import Quote
from paymux.core.ledger.records import LedgerAccount, LedgerTransaction, StoredPosting
from paymux.core.markets_fees import NO_FEES, MarketFees
from paymux.core.services.payment_pending import PendingReason, PendingWork
from paymux.core.services.shipments import Shipment
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
    commission: AmountText | None = Field(
        default=None,
        description="The platform's commission on this order; omitted: the market's "
        "commission rule (zero without one)",
    )
    logistics_fee: AmountText | None = Field(
        default=None,
        description="The logistics fee of this order; omitted: the market's logistics fee "
        "(zero without one)",
    )
    reference: _Id = Field(description="The shop's own reference of this order")
    estimated_delivery: str | None = Field(
        default=None,
        pattern=DELIVERY_PATTERN,
        description="When the buyer should get this order: a date (`2026-12-01`) or a range "
        "of two dates, both included (`2026-12-01/2026-12-03`); shown in the buyer's "
        "confirmation",
        examples=["2026-12-01/2026-12-03"],
    )


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
    buyer_email: str | None = Field(
        default=None,
        max_length=EMAIL_MAX_LENGTH,
        pattern=EMAIL_PATTERN,
        description="Where paymux confirms the payment once it succeeded (with the installed "
        "notifiers); personal data, never logged nor put in events",
        examples=["buyer@example.com"],
    )
    buyer_locale: str | None = Field(
        default=None,
        max_length=LOCALE_MAX_LENGTH,
        pattern=LOCALE_PATTERN,
        description="The buyer's language tag, for localized amounts and dates in notifications "
        "and on the status page",
        examples=["de-DE"],
    )

    def active_currency(self) -> str:
        """The checkout's currency code, checked (``unknown-currency`` problem otherwise)."""
        try:
            return get_active_currency(self.currency).code
        except MoneyError as error:
            raise Problem(error.code, str(error), pointer="/currency") from None

    def to_draft(self, fees: MarketFees = NO_FEES) -> CheckoutDraft:
        """The domain's checkout; raises money and checkout errors with the field's name.

        An order's omitted ``commission`` or ``logistics_fee`` comes from ``fees`` (the
        market's rules), zero without a rule.
        """
        currency = self.active_currency()
        orders = []
        for i, order in enumerate(self.orders):
            amount = _money(order.amount, currency, f"orders[{i}].amount")
            commission, logistics_fee = fees.fees_for(
                amount,
                commission=_optional_money(order.commission, currency, f"orders[{i}].commission"),
                logistics_fee=_optional_money(
                    order.logistics_fee, currency, f"orders[{i}].logistics_fee"
                ),
            )
            orders.append(
                OrderDraft(
                    seller_id=order.seller_id,
                    amount=amount,
                    commission=commission,
                    logistics_fee=logistics_fee,
                    reference=order.reference,
                    estimated_delivery=_delivery(
                        order.estimated_delivery, f"orders[{i}].estimated_delivery"
                    ),
                )
            )
        return CheckoutDraft(
            buyer_id=self.buyer_id,
            currency=currency,
            country=self.country,
            payment_method=self.payment_method,
            return_url=self.return_url,
            orders=tuple(orders),
            buyer_email=self.buyer_email,
            buyer_locale=self.buyer_locale,
        )


def _delivery(text: str | None, where: str) -> DeliveryEstimate | None:
    if text is None:
        return None
    try:
        return DeliveryEstimate.parse(text)
    except InvalidDeliveryEstimateError as error:
        pointer = "/" + where.replace("[", "/").replace("].", "/")
        raise Problem(
            "validation-error",
            "some fields are missing or have the wrong type",
            errors=[{"pointer": pointer, "detail": str(error)}],
        ) from None


def _optional_money(value: Any, currency: str, where: str) -> Money | None:
    return None if value is None else _money(value, currency, where)


def _money(value: Any, currency: str, where: str) -> Money:
    try:
        return Money.parse(value, currency)
    except MoneyError as error:
        pointer = "/" + where.replace("[", "/").replace("].", "/")
        raise Problem(error.code, f"{where}: {error}", pointer=pointer) from None


class OrderOut(Localizable):
    """A payment order as the API shows it."""

    display_amounts: ClassVar[dict[str, str]] = {
        "amount": "currency",
        "commission": "currency",
        "logistics_fee": "currency",
        "settlement_amount": "settlement_currency",
    }
    display_days: ClassVar[tuple[str, ...]] = ("estimated_delivery",)

    id: str
    seller_id: str
    reference: str
    amount: str
    commission: str
    logistics_fee: str
    status: PaymentStatus
    failure_code: str | None
    estimated_delivery: str | None = Field(
        default=None, description="As given at checkout: a date or a range of two dates"
    )
    settlement_amount: str | None = Field(
        default=None,
        description="When the payment converts: this order's share of the settlement amount, "
        "in the payment's settlement_currency",
    )


class FxQuoteOut(Localizable):
    """A locked quote, ``1 base = rate quote``: a converted payment's (presentment to
    settlement currency) or a converted payout's."""

    display_days: ClassVar[tuple[str, ...]] = ("rate_date",)

    base: str
    quote: str
    rate: str = Field(description="Exactly as locked (a decimal string)")
    source: str = Field(description="The rate source, e.g. `ecb` or `fixed`")
    rate_date: str = Field(description="The day the rate holds for (ISO 8601 date)")
    created_at: datetime
    expires_at: datetime

    @classmethod
    def of(cls, quote: Quote) -> FxQuoteOut:
        """Render a locked quote (its rate as locked, never in exponent notation)."""
        return cls(
            base=quote.base,
            quote=quote.quote,
            rate=format(quote.rate, "f"),
            source=quote.source,
            rate_date=quote.rate_date.isoformat(),
            created_at=quote.created_at,
            expires_at=quote.expires_at,
        )


class NextAction(BaseModel):
    """What the buyer must do next while the payment is pending."""

    type: str = Field(examples=["redirect"])
    url: str


class PendingOut(Localizable):
    """What an open payment waits for, and what to do about it."""

    reason: PendingReason
    detail: str = Field(description="What is pending and what the caller can do")
    next_check_at: datetime | None = Field(
        description="When paymux next retries or asks the provider on its own"
    )
    dead_letter_id: str | None = Field(
        default=None, description="With needs_attention: the dead letter to replay"
    )


class PaymentOut(Localizable):
    """A payment as the API shows it."""

    display_amounts: ClassVar[dict[str, str]] = {
        "amount": "currency",
        "settlement_amount": "settlement_currency",
    }

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
    pending: PendingOut | None = Field(
        default=None,
        description="On GET, while the payment is open: what it waits for and what to do",
    )
    orders: list[OrderOut]
    created_at: datetime
    buyer_email: str | None = Field(default=None, description="As given at checkout")
    buyer_locale: str | None = Field(default=None, description="As given at checkout")
    settlement_currency: str | None = Field(
        default=None,
        description="The currency the provider settles the payment in (the payment's own "
        "unless its provider account settles in another)",
    )
    settlement_amount: str | None = Field(
        default=None,
        description="When the payment converts: its total converted once at fx_quote",
    )
    fx_quote: FxQuoteOut | None = Field(
        default=None, description="When the payment converts: the quote locked at creation"
    )

    @classmethod
    def of(
        cls, payment: PaymentEvent, *, status_page_url: str, pending: PendingWork | None = None
    ) -> PaymentOut:
        """Render a payment."""
        redirect = payment.registration.redirect_url if payment.registration else None
        status = payment.status
        settled, quote = payment.settlement_total, payment.fx_quote
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
            pending=None
            if pending is None
            else PendingOut(
                reason=pending.reason,
                detail=pending.detail,
                next_check_at=pending.next_check_at,
                dead_letter_id=pending.dead_letter_id,
            ),
            orders=[_order_out(order) for order in payment.orders],
            created_at=payment.created_at,
            buyer_email=payment.buyer_email,
            buyer_locale=payment.buyer_locale,
            settlement_currency=payment.settles_in,
            settlement_amount=None if settled is None else settled.amount_str,
            fx_quote=None if quote is None else FxQuoteOut.of(quote),
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
        estimated_delivery=None
        if order.estimated_delivery is None
        else str(order.estimated_delivery),
        settlement_amount=None
        if order.settlement_amount is None
        else order.settlement_amount.amount_str,
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


class ShipmentOut(Localizable):
    """A confirmed shipment and the money it released."""

    display_amounts: ClassVar[dict[str, str]] = {
        "released": "currency",
        "commission": "currency",
        "logistics_fee": "currency",
    }

    payment_id: str
    payment_order_id: str
    seller_id: str
    shipped_at: datetime
    currency: str
    released: str = Field(description="Now available to the seller")
    commission: str
    logistics_fee: str
    ledger_transaction_id: str | None = Field(
        description="The release transaction; null when chargebacks hold the whole order."
    )

    @classmethod
    def of(cls, shipment: Shipment) -> ShipmentOut:
        """Render a shipment."""
        return cls(
            payment_id=shipment.payment_id,
            payment_order_id=shipment.payment_order_id,
            seller_id=shipment.seller_id,
            shipped_at=shipment.shipped_at,
            currency=shipment.released.currency,
            released=shipment.released.amount_str,
            commission=shipment.commission.amount_str,
            logistics_fee=shipment.logistics_fee.amount_str,
            ledger_transaction_id=shipment.ledger_transaction_id,
        )


class WalletBalanceOut(Localizable):
    """A seller's money in one currency."""

    display_amounts: ClassVar[dict[str, str]] = dict.fromkeys(
        ("pending", "available", "in_transit", "paid_out", "disputed", "receivable"), "currency"
    )

    currency: str
    pending: str = Field(description="Paid, not releasable until shipment")
    available: str = Field(description="Released, can be paid out")
    in_transit: str = Field(
        description="Payouts on their way to the seller in this currency (pending payouts)"
    )
    paid_out: str = Field(
        description="Paid to the seller in this currency so far (a payout converted from "
        "another currency counts with the amount the seller received)"
    )
    disputed: str = Field(description="Frozen by open chargebacks")
    receivable: str = Field(description="Owed by the seller; recovered from the next payout")


class WalletOut(Localizable):
    """A seller's wallet: the ledger seen per currency."""

    seller_id: str
    balances: list[WalletBalanceOut]


class AccountOut(Localizable):
    """A ledger account."""

    display_amounts: ClassVar[dict[str, str]] = {"balance": "currency"}

    id: str
    owner_kind: str
    owner_id: str
    purpose: str
    type: str
    currency: str
    balance: str = Field(description="On the account's normal side (positive = normal)")

    @classmethod
    def of(cls, account: LedgerAccount) -> AccountOut:
        """Render an account."""
        return cls(
            id=account.id,
            owner_kind=account.key.owner_kind.value,
            owner_id=account.key.owner_id,
            purpose=account.key.purpose.value,
            type=account.key.type.value,
            currency=account.key.currency,
            balance=account.normal_balance.amount_str,
        )


class EntryOut(Localizable):
    """A posting: positive amounts are debits, negative are credits."""

    display_amounts: ClassVar[dict[str, str]] = {"amount": "currency"}

    id: int
    transaction_id: str
    account_id: str
    amount: str
    currency: str
    created_at: datetime

    @classmethod
    def of(cls, posting: StoredPosting) -> EntryOut:
        """Render a posting."""
        return cls(
            id=posting.id,
            transaction_id=posting.transaction_id,
            account_id=posting.account_id,
            amount=posting.amount.amount_str,
            currency=posting.amount.currency,
            created_at=posting.created_at,
        )


class EntriesPage(Localizable):
    """A page of an account's entries."""

    account: AccountOut
    data: list[EntryOut]
    has_more: bool
    next_after: int | None = Field(description="Pass as `after` for the next page")


class LedgerTransactionOut(Localizable):
    """A journal transaction."""

    id: str
    reference: str
    kind: str
    details: dict[str, Any]
    created_at: datetime
    postings: list[EntryOut]

    @classmethod
    def of(cls, transaction: LedgerTransaction) -> LedgerTransactionOut:
        """Render a transaction."""
        return cls(
            id=transaction.id,
            reference=transaction.reference,
            kind=transaction.kind,
            details=transaction.details,
            created_at=transaction.created_at,
            postings=[EntryOut.of(p) for p in transaction.postings],
        )


class RefundIn(BaseModel):
    """``POST /v1/payments/{id}/refunds``: every field is optional."""

    model_config = ConfigDict(extra="forbid")

    payment_order_id: str | None = Field(
        default=None, description="Refund only this order (default: all, in proportion)"
    )
    amount: AmountText | None = Field(
        default=None, description="Default: everything not refunded yet"
    )
    reason: str | None = Field(default=None, max_length=255)


class RefundPartOut(Localizable):
    """How much of a refund one order gives."""

    display_amounts: ClassVar[dict[str, str]] = {"amount": "currency"}

    payment_order_id: str
    amount: str


class RefundOut(Localizable):
    """A refund as the API shows it."""

    display_amounts: ClassVar[dict[str, str]] = {"amount": "currency"}

    id: str
    payment_id: str
    status: RefundStatus
    currency: str
    amount: str
    reason: str | None
    failure_code: str | None
    parts: list[RefundPartOut]
    created_at: datetime

    @classmethod
    def of(cls, refund: Refund) -> RefundOut:
        """Render a refund."""
        return cls(
            id=refund.id,
            payment_id=refund.payment_event_id,
            status=refund.status,
            currency=refund.amount.currency,
            amount=refund.amount.amount_str,
            reason=refund.reason,
            failure_code=refund.failure_code,
            parts=[
                RefundPartOut(payment_order_id=p.payment_order_id, amount=p.amount.amount_str)
                for p in refund.parts
            ],
            created_at=refund.created_at,
        )


class PayoutIn(BaseModel):
    """``POST /v1/payouts``."""

    model_config = ConfigDict(extra="forbid")

    seller_id: _Id
    currency: str = Field(
        description="ISO 4217 code, upper case: the seller's available money paid out",
        examples=["EUR"],
    )
    amount: AmountText | None = Field(
        default=None, description="In `currency`; default: all available"
    )
    payout_currency: str | None = Field(
        default=None,
        description="ISO 4217 code the seller is paid in; default: the payout method's "
        "currency, else `currency`. Another currency converts at a locked quote.",
        examples=["EUR"],
    )


class PayoutOut(Localizable):
    """A payout as the API shows it."""

    display_amounts: ClassVar[dict[str, str]] = {
        "amount": "currency",
        "payout_amount": "payout_currency",
    }

    id: str
    seller_id: str
    status: PayoutStatus
    currency: str = Field(description="The currency of the seller's money paid out")
    amount: str = Field(description="Taken from the seller's available money in `currency`")
    payout_currency: str = Field(description="The currency the seller is paid in")
    payout_amount: str = Field(
        description="What the seller is paid in `payout_currency`: `amount` converted at "
        "`fx_quote`, or `amount` itself"
    )
    fx_quote: FxQuoteOut | None = Field(
        description="The locked quote of a converted payout; null without a conversion"
    )
    provider: str
    failure_code: str | None
    created_at: datetime

    @classmethod
    def of(cls, payout: Payout) -> PayoutOut:
        """Render a payout."""
        quote = payout.fx_quote
        return cls(
            id=payout.id,
            seller_id=payout.seller_id,
            status=payout.status,
            currency=payout.amount.currency,
            amount=payout.amount.amount_str,
            payout_currency=payout.sent.currency,
            payout_amount=payout.sent.amount_str,
            fx_quote=None if quote is None else FxQuoteOut.of(quote),
            provider=payout.provider,
            failure_code=payout.failure_code,
            created_at=payout.created_at,
        )
