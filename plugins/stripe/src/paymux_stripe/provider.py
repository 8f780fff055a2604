"""The Stripe provider: Checkout Sessions, refunds and Connect transfers through the SDK.

Every call goes through one :class:`stripe.StripeClient` with its own
:class:`stripe.HTTPXClient` (async, with our timeout), SDK retries off
(``max_network_retries=0``: paymux retries itself with the same idempotency key).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import stripe

from paymux.core.domain.payouts import PayoutStatus
from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import (
    CheckoutRegistration,
    CheckoutRequest,
    PayoutRequest,
    PayoutResult,
    ProviderCapabilities,
    ProviderPaymentState,
    ProviderRejectedError,
    ProviderTimeoutError,
    RefundRequest,
    RefundResult,
    WebhookEvent,
)
from paymux_stripe.amounts import encode_amount, supported_currencies
from paymux_stripe.config import StripeConfig
from paymux_stripe.errors import classify, slug
from paymux_stripe.report_runs import ReportRunFetcher
from paymux_stripe.statuses import payment_status, refund_status
from paymux_stripe.webhooks import (
    PAYMENT_ID_KEY,
    PAYOUT_ID_KEY,
    REFUND_ID_KEY,
    normalize,
    verify_and_load,
)

_T = TypeVar("_T")
_METADATA_VALUE_MAX = 500
SELLER_ID_KEY = "paymux_seller_id"
STRIPE_API_BASE = "https://api.stripe.com"
BUYER_ID_KEY = "paymux_buyer_id"


class StripeProvider:
    """A :class:`~paymux.core.ports.provider.PaymentProvider` for Stripe.

    The token of a payment is its Checkout Session id (``cs_...``); the session's
    PaymentIntent carries ``transfer_group`` = paymux's payment id, so Connect transfers and
    reports can be tied to it.
    """

    def __init__(
        self,
        config: StripeConfig,
        *,
        name: str = "stripe",
        on_close: Callable[[], None] | None = None,
    ) -> None:
        """``on_close`` runs once in :meth:`aclose` (sandbox mode: it stops the fake Stripe)."""
        self._config = config
        self._name = name
        self._on_close = on_close
        self._closed = False
        self._http = stripe.HTTPXClient(timeout=config.request_timeout_seconds)
        base = config.api_base.rstrip("/") if config.api_base else None
        addresses: Any = (
            {"api": base, "connect": base, "files": base, "meter_events": base} if base else None
        )
        self._client = stripe.StripeClient(
            config.api_key,
            base_addresses=addresses,
            max_network_retries=0,
            http_client=self._http,
        )
        self._reports = ReportRunFetcher(
            self._client, self._http, api_key=config.api_key, files_base=base, call=self._call
        )

    @property
    def name(self) -> str:
        """The name this provider is enabled under (``stripe``)."""
        return self._name

    @property
    def api_base(self) -> str:
        """Where the API is reached: Stripe's, ``api_base``, or the sandbox fake's URL."""
        return (self._config.api_base or STRIPE_API_BASE).rstrip("/")

    def capabilities(self) -> ProviderCapabilities:
        """Cards in every country, in the currencies whose Stripe encoding is known."""
        return ProviderCapabilities(
            methods=frozenset({"card"}),
            currencies=supported_currencies(),
            features=frozenset({"hosted_checkout", "webhooks", "status", "refunds", "payouts"}),
        )

    async def register_checkout(
        self, request: CheckoutRequest, *, idempotency_key: str
    ) -> CheckoutRegistration:
        """``POST /v1/checkout/sessions`` (mode ``payment``, one line item of the total)."""
        amount = encode_amount(request.amount)
        references = ", ".join(request.order_references)
        metadata = {
            PAYMENT_ID_KEY: request.payment_id,
            BUYER_ID_KEY: request.buyer_id[:_METADATA_VALUE_MAX],
        }
        params: dict[str, Any] = {
            "mode": "payment",
            "success_url": request.return_url,
            "cancel_url": request.return_url,
            "client_reference_id": request.payment_id[:200],
            "payment_method_types": ["card"],
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": amount.currency,
                        "unit_amount": amount.amount,
                        "product_data": {
                            "name": self._config.product_name,
                            "description": references[:1000] or request.payment_id,
                        },
                    },
                }
            ],
            "metadata": metadata,
            "payment_intent_data": {
                "transfer_group": request.payment_id,
                "metadata": metadata,
            },
        }
        if self._config.checkout_expires_after_seconds is not None:
            params["expires_at"] = int(time.time()) + self._config.checkout_expires_after_seconds
        session = await self._call(
            self._client.v1.checkout.sessions.create_async(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )
        )
        data = session.to_dict()
        if not data.get("url"):
            raise ProviderRejectedError("Stripe returned a session without a URL", code="no-url")
        return CheckoutRegistration(token=str(data["id"]), redirect_url=str(data["url"]))

    async def fetch_status(self, token: str) -> ProviderPaymentState:
        """``GET /v1/checkout/sessions/{token}?expand[]=payment_intent``; changes nothing."""
        session = await self._retrieve_session(token)
        intent = session.get("payment_intent")
        intent_data = intent if isinstance(intent, Mapping) else None
        status = payment_status(
            session.get("status"),
            str(session["payment_status"]),
            str(intent_data["status"]) if intent_data else None,
        )
        return ProviderPaymentState(
            token=token,
            status=status,
            failure_code=_failure_code(status, session, intent_data),
            occurred_at=datetime.fromtimestamp(int(session["created"]), UTC),
            psp_payment_id=str(intent_data["id"]) if intent_data else None,
        )

    async def refund(self, request: RefundRequest, *, idempotency_key: str) -> RefundResult:
        """``POST /v1/refunds`` on the session's PaymentIntent, ``metadata[paymux_refund_id]``."""
        amount = encode_amount(request.amount)
        session = await self._retrieve_session(request.token)
        intent_id = _intent_id(session.get("payment_intent"))
        if intent_id is None:
            raise ProviderRejectedError(
                f"Checkout Session {request.token} has no payment to refund", code="not-paid"
            )
        if str(session.get("currency") or amount.currency) != amount.currency:
            raise ProviderRejectedError(
                f"the payment is in {session.get('currency')}, not {amount.currency}",
                code="currency-mismatch",
            )
        metadata = {REFUND_ID_KEY: request.refund_id}
        if request.reason:
            metadata["paymux_reason"] = request.reason[:_METADATA_VALUE_MAX]
        refund = await self._call(
            self._client.v1.refunds.create_async(
                params={"payment_intent": intent_id, "amount": amount.amount, "metadata": metadata},
                options={"idempotency_key": idempotency_key},
            )
        )
        data = refund.to_dict()
        status = refund_status(data.get("status"))
        return RefundResult(
            status=status,
            psp_reference=str(data["id"]),
            failure_code=slug(data.get("failure_reason"), "refund-failed")
            if status.value == "failed"
            else None,
        )

    async def payout(self, request: PayoutRequest, *, idempotency_key: str) -> PayoutResult:
        """``POST /v1/transfers`` to the seller's connected account (``acct_...``).

        A transfer between Stripe balances is final once created: the payout is ``paid``.
        """
        if request.destination is None or not request.destination.account:
            raise ProviderRejectedError(
                f"seller {request.seller_id} has no Stripe connected account",
                code="payout-destination-missing",
            )
        account = request.destination.account
        if not account.startswith("acct_"):
            raise ProviderRejectedError(
                f"{account!r} is not a Stripe connected account id",
                code="payout-destination-invalid",
            )
        amount = encode_amount(request.amount)
        transfer = await self._call(
            self._client.v1.transfers.create_async(
                params={
                    "amount": amount.amount,
                    "currency": amount.currency,
                    "destination": account,
                    "description": f"paymux payout {request.payout_id}",
                    "metadata": {
                        PAYOUT_ID_KEY: request.payout_id,
                        SELLER_ID_KEY: request.seller_id[:_METADATA_VALUE_MAX],
                    },
                },
                options={"idempotency_key": idempotency_key},
            )
        )
        data = transfer.to_dict()
        reversed_ = bool(data.get("reversed"))
        return PayoutResult(
            status=PayoutStatus.FAILED if reversed_ else PayoutStatus.PAID,
            psp_reference=str(data["id"]),
            failure_code="transfer-reversed" if reversed_ else None,
        )

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        """Verify ``Stripe-Signature`` with the SDK (``t=...,v1=...``) and normalize."""
        event = verify_and_load(
            headers,
            body,
            secret=self._config.webhook_secret,
            tolerance=self._config.webhook_tolerance_seconds,
            previous_secret=self._config.previous_webhook_secret,
        )
        return normalize(event)

    async def fetch_settlement_report(self, day: date) -> bytes | None:
        """The ``balance_change_from_activity.itemized.3`` CSV of the UTC ``day`` through a
        Stripe report run, or ``None`` while Stripe has not produced it yet (never waits:
        :mod:`paymux_stripe.report_runs`). A failed run raises a retryable provider error."""
        return await self._reports.fetch(day)

    async def aclose(self) -> None:
        """Close the SDK's HTTP client, then run ``on_close`` (in a thread). Idempotent."""
        if self._closed:
            return
        self._closed = True
        await self._http.close_async()  # type: ignore[no-untyped-call]
        if self._on_close is not None:
            await asyncio.to_thread(self._on_close)

    async def _retrieve_session(self, token: str) -> dict[str, Any]:
        session = await self._call(
            self._client.v1.checkout.sessions.retrieve_async(
                token, params={"expand": ["payment_intent"]}
            )
        )
        data: dict[str, Any] = session.to_dict()
        return data

    async def _call(self, call: Awaitable[_T]) -> _T:
        try:
            async with asyncio.timeout(self._config.request_timeout_seconds):
                return await call
        except TimeoutError as error:
            raise ProviderTimeoutError(f"Stripe did not answer in time: {error!r}") from error
        except stripe.StripeError as error:
            raise classify(error) from error


def _intent_id(value: object) -> str | None:
    if isinstance(value, Mapping):
        return str(value["id"])
    return None if value is None else str(value)


def _failure_code(
    status: PaymentStatus, session: Mapping[str, Any], intent: Mapping[str, Any] | None
) -> str | None:
    if status is not PaymentStatus.FAILED:
        return None
    if session.get("payment_status") == "no_payment_required":
        return "no-payment-collected"
    error = intent.get("last_payment_error") if intent else None
    if isinstance(error, Mapping):
        return slug(error.get("decline_code") or error.get("code"), "payment-failed")
    return "payment-failed"
