"""The Square provider: Payment Links for the hosted page, Orders and Payments for status.

Design (see docs/providers/square.md):

* ``register_checkout`` creates a payment link (``POST /v2/online-checkout/payment-links``)
  for an order of one line item at the configured location, with paymux's idempotency key
  in the body's ``idempotency_key``, the order's ``reference_id`` and the payment's note set
  to paymux's payment id, and ``checkout_options.redirect_url`` = the return URL.
* The **token is the Square order id** the link created. Square's payment webhooks carry the
  payment's ``order_id``, so ``parse_webhook`` finds the token without any I/O. The payment
  link id is kept as ``psp_reference``.
* ``fetch_status`` reads the order (``GET /v2/orders/{token}``) and each payment of its
  tenders (``GET /v2/payments/{id}``) and combines them (:func:`checkout_status`).
* ``refund`` refunds the order's completed payment (``POST /v2/refunds``).
* Square has no marketplace payouts: ``payout`` refuses with ``payouts-not-supported``.
* ``fetch_settlement_report`` lists the payouts Square created that UTC day and their
  entries (:mod:`paymux_square.settlement_fetch`), for the nightly reconciliation.

Every SDK call passes ``request_options={"max_retries": 0, ...}`` (the SDK retries twice by
default and has no client-wide switch) and runs under a timeout.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime
from typing import Any, TypeVar

import httpx
from square import AsyncSquare
from square.core.api_error import ApiError
from square.core.request_options import RequestOptions

from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import (
    CheckoutRegistration,
    CheckoutRequest,
    PayoutRequest,
    PayoutResult,
    ProviderCapabilities,
    ProviderPaymentState,
    ProviderRejectedError,
    ProviderUnavailableError,
    RefundRequest,
    RefundResult,
    WebhookEvent,
)
from paymux_square.amounts import SQUARE_COUNTRIES, SQUARE_EXPONENTS, to_square
from paymux_square.config import SquareConfig
from paymux_square.errors import from_api_error, from_transport_error, slug
from paymux_square.settlement_fetch import fetch_payouts_document
from paymux_square.statuses import UnknownSquareStatusError, checkout_status, refund_status
from paymux_square.webhooks import parse_events, payment_failure_code, verify

T = TypeVar("T")

MAX_IDEMPOTENCY_KEY = 45
"""Square's limit for ``idempotency_key`` on refunds (payment links allow 192)."""
MAX_REFERENCE_ID = 40
MAX_LINE_ITEM_NAME = 512
MAX_REFUND_REASON = 192

FEATURES = frozenset({"hosted_checkout", "webhooks", "status", "refunds"})
"""What the Square provider does; no ``payouts``: Square pays sellers nothing on our behalf."""


def square_idempotency_key(key: str) -> str:
    """``key`` itself when Square accepts it (at most 45 characters), else a stable digest."""
    if len(key) <= MAX_IDEMPOTENCY_KEY:
        return key
    return f"pmx-{hashlib.sha256(key.encode()).hexdigest()[:40]}"


class SquareProvider:
    """A :class:`~paymux.core.ports.provider.PaymentProvider` for Square."""

    def __init__(
        self,
        config: SquareConfig,
        *,
        mode: str,
        webhook_url: str,
        name: str = "square",
        transport: httpx.AsyncBaseTransport | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        """``on_close`` runs once, in a worker thread, when the provider is closed (sandbox
        mode stops its fake Square with it)."""
        self._config = config
        self._on_close = on_close
        self._closed = False
        self._name = name
        self._notification_url = config.notification_url or webhook_url
        self._timeout = config.request_timeout_seconds
        self._http = httpx.AsyncClient(timeout=self._timeout, transport=transport)
        self._square = AsyncSquare(
            token=config.access_token.get_secret_value(),
            base_url=config.api_base_url(mode),
            timeout=self._timeout,
            httpx_client=self._http,
        )
        # The SDK imports each API's module on first use (~0.3 s): do it now, not inside the
        # first call's timeout.
        _ = (
            self._square.checkout.payment_links,
            self._square.orders,
            self._square.payments,
            self._square.refunds,
            self._square.payouts,
        )
        self._options: RequestOptions = {
            "max_retries": 0,
            "timeout_in_seconds": max(1, math.ceil(self._timeout)),
        }

    @property
    def name(self) -> str:
        """The provider's name (``"square"`` unless configured otherwise)."""
        return self._name

    def capabilities(self) -> ProviderCapabilities:
        """Cards in Square's countries and currencies; no payouts."""
        return ProviderCapabilities(
            methods=frozenset({"card"}),
            countries=SQUARE_COUNTRIES,
            currencies=frozenset(SQUARE_EXPONENTS),
            features=FEATURES,
        )

    async def register_checkout(
        self, request: CheckoutRequest, *, idempotency_key: str
    ) -> CheckoutRegistration:
        """Create a payment link; its order's id is the token, its own id the reference."""
        price = to_square(request.amount)
        label = ", ".join(request.order_references)
        name = f"{self._config.checkout_name} {label}".strip()[:MAX_LINE_ITEM_NAME]
        order: dict[str, Any] = {
            "location_id": self._config.location_id,
            "line_items": [{"name": name, "quantity": "1", "base_price_money": price}],
        }
        if len(request.payment_id) <= MAX_REFERENCE_ID:
            order["reference_id"] = request.payment_id
        response = await self._call(
            "create payment link",
            lambda options: self._square.checkout.payment_links.create(
                idempotency_key=square_idempotency_key(idempotency_key),
                order=order,
                checkout_options={"redirect_url": request.return_url},
                payment_note=request.payment_id,
                request_options=options,
            ),
        )
        link = response.payment_link
        if link is None or not link.order_id or not link.url or not link.id:
            raise ProviderUnavailableError("Square answered a payment link without order or URL")
        return CheckoutRegistration(
            token=link.order_id, redirect_url=link.url, psp_reference=link.id
        )

    async def fetch_status(self, token: str) -> ProviderPaymentState:
        """The order's state combined with the statuses of its tenders' payments."""
        order = await self._order(token)
        payments = [await self._payment(payment_id) for payment_id in _payment_ids(order)]
        statuses = [str(payment.get("status")) for payment in payments]
        try:
            status = checkout_status(str(order.get("state")), statuses)
        except UnknownSquareStatusError as error:
            raise ProviderUnavailableError(str(error)) from error
        failure_code = None
        if status is PaymentStatus.FAILED:
            failed = [p for p in payments if p.get("status") == "FAILED"]
            failure_code = payment_failure_code(failed[-1]) if failed else "payment-failed"
        stamps = [_timestamp(p.get("updated_at")) for p in payments]
        stamps.append(_timestamp(order.get("updated_at")))
        known = [stamp for stamp in stamps if stamp is not None]
        return ProviderPaymentState(
            token=token,
            status=status,
            failure_code=failure_code,
            occurred_at=max(known) if known else None,
            psp_payment_id=_settled_payment_id(payments),
        )

    async def refund(self, request: RefundRequest, *, idempotency_key: str) -> RefundResult:
        """Refund the order's completed payment (``POST /v2/refunds``)."""
        amount = to_square(request.amount)
        payment_id = await self._completed_payment_id(request.token)
        reason = (request.reason or "")[:MAX_REFUND_REASON] or None
        response = await self._call(
            "refund payment",
            lambda options: self._square.refunds.refund_payment(
                idempotency_key=square_idempotency_key(idempotency_key),
                payment_id=payment_id,
                amount_money=amount,
                **({"reason": reason} if reason else {}),
                request_options=options,
            ),
        )
        refund = response.refund
        if refund is None or not refund.id or not refund.status:
            raise ProviderUnavailableError("Square answered a refund without id or status")
        try:
            status = refund_status(refund.status)
        except UnknownSquareStatusError as error:
            raise ProviderUnavailableError(str(error)) from error
        return RefundResult(
            status=status,
            psp_reference=refund.id,
            failure_code=f"refund-{slug(refund.status)}" if status.value == "failed" else None,
        )

    async def payout(self, request: PayoutRequest, *, idempotency_key: str) -> PayoutResult:
        """Always refused: Square has no marketplace payouts; route payouts elsewhere."""
        raise ProviderRejectedError(
            "Square does not pay out to marketplace sellers; configure another provider "
            "for payouts",
            code="payouts-not-supported",
        )

    async def fetch_settlement_report(self, day: date) -> bytes | None:
        """The payouts Square created on the UTC ``day`` at the configured location, with
        their entries, as the JSON document :mod:`paymux_square.settlement` reads; ``None``
        when Square created none (yet): the nightly job asks again an hour later.

        Raises the plugin's ``ProviderError``\\s (a 5xx or no answer: retried)."""
        return await fetch_payouts_document(
            self._square.payouts, self._call, location_id=self._config.location_id, day=day
        )

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        """Verify ``x-square-hmacsha256-signature`` over the notification URL + body; map it."""
        verify(
            headers,
            body,
            signature_key=self._config.webhook_signature_key.get_secret_value(),
            notification_url=self._notification_url,
            previous_signature_key=(
                previous.get_secret_value()
                if (previous := self._config.previous_webhook_signature_key)
                else None
            ),
        )
        return parse_events(body)

    async def aclose(self) -> None:
        """Close the HTTP client shared with the SDK (and run ``on_close``); idempotent."""
        if self._closed:
            return
        self._closed = True
        await self._http.aclose()
        if self._on_close is not None:
            await asyncio.to_thread(self._on_close)

    # -- calls -------------------------------------------------------------------------

    async def _order(self, order_id: str) -> dict[str, Any]:
        response = await self._call(
            "retrieve order",
            lambda options: self._square.orders.get(order_id, request_options=options),
        )
        if response.order is None:
            raise ProviderUnavailableError(f"Square answered no order for {order_id}")
        order: dict[str, Any] = response.order.model_dump(mode="json")
        return order

    async def _payment(self, payment_id: str) -> dict[str, Any]:
        response = await self._call(
            "get payment",
            lambda options: self._square.payments.get(payment_id, request_options=options),
        )
        if response.payment is None:
            raise ProviderUnavailableError(f"Square answered no payment for {payment_id}")
        payment: dict[str, Any] = response.payment.model_dump(mode="json")
        return payment

    async def _completed_payment_id(self, token: str) -> str:
        order = await self._order(token)
        for payment_id in _payment_ids(order):
            payment = await self._payment(payment_id)
            if payment.get("status") == "COMPLETED":
                return payment_id
        raise ProviderRejectedError(
            f"the Square order {token} has no completed payment to refund",
            code="payment-not-refundable",
        )

    async def _call(self, operation: str, send: Callable[[RequestOptions], Awaitable[T]]) -> T:
        try:
            async with asyncio.timeout(self._timeout):
                return await send(self._options)
        except ApiError as error:
            raise from_api_error(error, operation=operation) from error
        except (TimeoutError, httpx.HTTPError) as error:
            raise from_transport_error(error, operation=operation) from error
        except ValueError as error:  # an answer that is not Square's JSON
            raise ProviderUnavailableError(
                f"Square's answer to {operation} cannot be read: {error!r}"
            ) from error


def _payment_ids(order: Mapping[str, Any]) -> list[str]:
    ids: list[str] = []
    for tender in order.get("tenders") or []:
        payment_id = tender.get("payment_id") or tender.get("id")
        if payment_id and payment_id not in ids:
            ids.append(str(payment_id))
    return ids


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _settled_payment_id(payments: list[dict[str, Any]]) -> str | None:
    """The Square payment that disputes will name: the completed one, else the last."""
    completed = [p for p in payments if p.get("status") == "COMPLETED" and p.get("id")]
    chosen = completed or [p for p in payments if p.get("id")]
    return str(chosen[-1]["id"]) if chosen else None
