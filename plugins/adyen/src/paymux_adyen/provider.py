"""The Adyen provider: payment links, refunds, balance-platform transfers, webhooks, and
the download of announced settlement reports."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from threading import Lock
from typing import Any

from paymux.core.domain.payouts import PayoutStatus
from paymux.core.domain.refunds import RefundStatus
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
    SettlementReportAvailable,
    WebhookEvent,
)
from paymux_adyen.amounts import SUPPORTED_CURRENCIES, to_adyen_amount
from paymux_adyen.client import build_sdk, call, rebase
from paymux_adyen.config import AdyenConfig
from paymux_adyen.notifications import NotificationContext, parse_notifications, slug
from paymux_adyen.reports import ReportDownloads
from paymux_adyen.statuses import payment_status, payout_status
from paymux_adyen.transfer_webhooks import SIGNATURE_HEADER, parse_transfer_webhook

PAYMENT_METHODS: Mapping[str, str] = {
    "card": "scheme",
    "ideal": "ideal",
    "sepa_debit": "sepadirectdebit",
}
"""paymux payment method → Adyen ``allowedPaymentMethods`` type on the payment link."""

PAYMENT_INDEX_SIZE = 100_000


class PaymentReferences:
    """Which Adyen payment (pspReference) was made through which payment link.

    Learned from verified ``AUTHORISATION`` notifications (they carry ``paymentLinkId``).
    Refunds need the payment's pspReference, and dispute notifications name only it; the
    provider port has no place to keep it yet, so this bounded in-process index bridges the
    gap (see the plugin's docs: after a restart, refunds of older payments are refused).
    """

    def __init__(self, size: int = PAYMENT_INDEX_SIZE) -> None:
        self._size = size
        self._by_link: OrderedDict[str, str] = OrderedDict()
        self._by_payment: OrderedDict[str, str] = OrderedDict()
        self._lock = Lock()

    def remember(self, link_id: str, psp_reference: str) -> None:
        """Record that ``psp_reference`` paid the link ``link_id``."""
        with self._lock:
            self._by_link[link_id] = psp_reference
            self._by_payment[psp_reference] = link_id
            for index in (self._by_link, self._by_payment):
                while len(index) > self._size:
                    index.popitem(last=False)

    def payment_of(self, link_id: str) -> str | None:
        """The pspReference of the successful payment through ``link_id``, if known."""
        with self._lock:
            return self._by_link.get(link_id)

    def link_of(self, psp_reference: str) -> str | None:
        """The link that the payment ``psp_reference`` went through, if known."""
        with self._lock:
            return self._by_payment.get(psp_reference)


def _parse_time(raw: object) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return None


def _looks_like_psp_reference(token: str) -> bool:
    return len(token) == 16 and token.isalnum() and not token.startswith("PL")


class AdyenProvider:
    """A :class:`~paymux.core.ports.provider.PaymentProvider` for Adyen.

    The hosted page is an Adyen **payment link** (``POST /paymentLinks``): its ``url`` is
    the page, its ``id`` the token. Checkout sessions would need paymux to host Drop-in.
    """

    def __init__(
        self,
        config: AdyenConfig,
        *,
        name: str = "adyen",
        on_close: Callable[[], None] | None = None,
    ) -> None:
        """``on_close`` runs once, in a worker thread, at :meth:`aclose` (the sandbox's fake)."""
        self._config = config
        self._name = name
        self._on_close = on_close
        self._timeout = config.request_timeout_seconds + 1.0
        checkout = build_sdk(
            api_key=config.api_key,
            environment=config.environment,
            live_endpoint_prefix=config.live_endpoint_prefix,
            timeout_seconds=config.request_timeout_seconds,
        )
        platform = build_sdk(
            api_key=config.transfers_api_key,
            environment=config.environment,
            live_endpoint_prefix=config.live_endpoint_prefix,
            timeout_seconds=config.request_timeout_seconds,
        )
        self._links = checkout.checkout.payment_links_api
        self._modifications = checkout.checkout.modifications_api
        self._transfers = platform.transfers.transfers_api
        if config.base_url is not None:
            for service in (self._links, self._modifications, self._transfers):
                rebase(service, config.base_url)
        self.payments = PaymentReferences()
        self._reports = ReportDownloads(config)

    @property
    def name(self) -> str:
        """The provider's name (``adyen`` unless configured otherwise)."""
        return self._name

    @property
    def base_url(self) -> str | None:
        """Where calls go instead of Adyen (the fake Adyen in sandbox mode), if anywhere."""
        return self._config.base_url

    def capabilities(self) -> ProviderCapabilities:
        """Cards, iDEAL and SEPA Direct Debit on payment links, in the encoded currencies."""
        features = {"hosted_checkout", "webhooks", "status", "refunds"}
        if self._config.platform_balance_account_id:
            features.add("payouts")
        return ProviderCapabilities(
            methods=frozenset(PAYMENT_METHODS),
            currencies=SUPPORTED_CURRENCIES,
            features=frozenset(features),
        )

    async def register_checkout(
        self, request: CheckoutRequest, *, idempotency_key: str
    ) -> CheckoutRegistration:
        """``POST /paymentLinks`` with ``Idempotency-Key``; the link's id is the token."""
        method = PAYMENT_METHODS.get(request.payment_method)
        if method is None:
            raise ProviderRejectedError(
                f"Adyen payment links here do not offer {request.payment_method!r}",
                code="payment-method-not-supported",
            )
        body: dict[str, Any] = {
            "merchantAccount": self._config.merchant_account,
            "reference": request.payment_id,
            "amount": to_adyen_amount(request.amount),
            "countryCode": request.country,
            "returnUrl": request.return_url,
            "allowedPaymentMethods": [method],
            "description": ", ".join(request.order_references)[:1000] or request.payment_id,
        }
        if 3 <= len(request.buyer_id) <= 256:  # Adyen's bounds for shopperReference
            body["shopperReference"] = request.buyer_id
        answer = await call(
            self._timeout, self._links.payment_links, body, idempotency_key=idempotency_key
        )
        try:
            return CheckoutRegistration(
                token=str(answer["id"]), redirect_url=str(answer["url"]), psp_reference=None
            )
        except KeyError as error:
            raise ProviderUnavailableError(f"Adyen's payment link lacks {error}") from None

    async def fetch_status(self, token: str) -> ProviderPaymentState:
        """``GET /paymentLinks/{id}``: active, paymentPending, completed/paid or expired."""
        answer = await call(self._timeout, self._links.get_payment_link, token)
        try:
            status = payment_status(str(answer["status"]))
        except KeyError:
            raise ProviderUnavailableError("Adyen's payment link has no status") from None
        return ProviderPaymentState(
            token=token, status=status, occurred_at=_parse_time(answer.get("updatedAt"))
        )

    async def refund(self, request: RefundRequest, *, idempotency_key: str) -> RefundResult:
        """``POST /payments/{pspReference}/refunds``: Adyen answers ``received`` (pending).

        The payment's pspReference is ``request.psp_payment_id`` (paymux kept it from the
        AUTHORISATION notification), else this process's index. The REFUND (or
        REFUND_FAILED) notification settles it later, found by our ``reference`` =
        paymux's refund id.
        """
        payment = request.psp_payment_id or self.payments.payment_of(request.token)
        if payment is None and _looks_like_psp_reference(request.token):
            payment = request.token
        if payment is None:
            raise ProviderRejectedError(
                f"no Adyen payment is known for payment link {request.token}: its AUTHORISATION "
                "notification has not reached this process",
                code="adyen-payment-reference-unknown",
            )
        body = {
            "merchantAccount": self._config.merchant_account,
            "amount": to_adyen_amount(request.amount),
            "reference": request.refund_id,
        }
        answer = await call(
            self._timeout,
            self._modifications.refund_captured_payment,
            body,
            payment,
            idempotency_key=idempotency_key,
        )
        if answer.get("status") != "received":
            raise ProviderUnavailableError(f"Adyen answered the refund with {answer!r}")
        return RefundResult(status=RefundStatus.PENDING, psp_reference=answer.get("pspReference"))

    async def payout(self, request: PayoutRequest, *, idempotency_key: str) -> PayoutResult:
        """``POST /transfers`` from the platform's balance account to the seller's."""
        source = self._config.platform_balance_account_id
        if source is None:
            raise ProviderRejectedError(
                "no platform_balance_account_id is configured", code="payouts-not-configured"
            )
        if request.destination is None or not request.destination.account:
            raise ProviderRejectedError(
                f"seller {request.seller_id} has no Adyen balance account",
                code="payout-destination-missing",
            )
        body = {
            "amount": to_adyen_amount(request.amount),
            "balanceAccountId": source,
            "category": "internal",
            "counterparty": {"balanceAccountId": request.destination.account},
            "reference": request.payout_id[:80],
            "description": f"paymux payout {request.payout_id}"[:140],
        }
        answer = await call(
            self._timeout,
            self._transfers.transfer_funds,
            body,
            idempotency_key=idempotency_key,
        )
        try:
            status_name = str(answer["status"])
            transfer_id = str(answer["id"])
        except KeyError as error:
            raise ProviderUnavailableError(f"Adyen's transfer lacks {error}") from None
        status = payout_status(status_name)
        failure = None
        if status is PayoutStatus.FAILED:
            failure = slug(answer.get("reason")) or slug(status_name)
        return PayoutResult(status=status, psp_reference=transfer_id, failure_code=failure)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        """Balance-platform webhooks (``HmacSignature`` header) or classic notifications."""
        if SIGNATURE_HEADER in headers:
            return parse_transfer_webhook(
                headers[SIGNATURE_HEADER],
                body,
                key_hex=self._config.balance_platform_hmac_key,
                platform_balance_account_id=self._config.platform_balance_account_id,
                previous_key_hex=self._config.previous_balance_platform_hmac_key,
            )
        return parse_notifications(
            body,
            key_hex=self._config.hmac_key,
            previous_key_hex=self._config.previous_hmac_key,
            context=NotificationContext(
                merchant_account=self._config.merchant_account,
                refused_attempt_is_final=self._config.refused_attempt_is_final,
                token_for=self._token_for,
                reports_origin=self._config.reports_origin,
            ),
        )

    async def download_settlement_report(
        self, report: SettlementReportAvailable, destination: Path
    ) -> None:
        """``GET`` the report a ``REPORT_AVAILABLE`` notification announced into
        ``destination`` (see :class:`~paymux_adyen.reports.ReportDownloads`)."""
        await self._reports.download(report, destination)

    def _token_for(self, item: Mapping[str, Any]) -> str | None:
        additional = item.get("additionalData") or {}
        link_id = additional.get("paymentLinkId")
        if isinstance(link_id, str) and link_id:
            if item.get("eventCode") == "AUTHORISATION" and str(item.get("success")) == "true":
                self.payments.remember(link_id, str(item["pspReference"]))
            return link_id
        for name in ("originalReference", "pspReference"):
            reference = item.get(name)
            if isinstance(reference, str) and reference:
                known = self.payments.link_of(reference)
                if known is not None:
                    return known
        return None

    async def aclose(self) -> None:
        """Stop the sandbox's fake Adyen, if this provider started one (once).

        The SDK itself holds nothing: it opens a connection per call; so does a report
        download.
        """
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            await asyncio.to_thread(on_close)
