"""The sandbox provider: paymux's side of the sandbox PSP, spoken over HTTP like a real one."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import httpx

from paymux.core.domain.chargebacks import DisputeStatus
from paymux.core.domain.payouts import PayoutStatus
from paymux.core.domain.refunds import RefundStatus
from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import (
    CheckoutRegistration,
    CheckoutRequest,
    DisputeEvent,
    PayoutRequest,
    PayoutResult,
    ProviderCapabilities,
    ProviderEvent,
    ProviderPaymentState,
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RefundRequest,
    RefundResult,
    WebhookEvent,
    WebhookVerificationError,
    parse_retry_after,
)
from paymux.currencies import Money, MoneyError, active_currencies
from paymux_sandbox.config import SandboxConfig
from paymux_sandbox.signature import SIGNATURE_HEADER, verify

_STATUSES = {
    "pending": PaymentStatus.PENDING,
    "succeeded": PaymentStatus.SUCCEEDED,
    "failed": PaymentStatus.FAILED,
}


class SandboxProvider:
    """A :class:`~paymux.core.ports.provider.PaymentProvider` for the sandbox PSP."""

    def __init__(
        self,
        config: SandboxConfig,
        *,
        base_url: str,
        webhook_url: str,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._config = config
        self._webhook_url = webhook_url
        self._currencies = (
            config.currencies
            if config.currencies is not None
            else frozenset(currency.code for currency in active_currencies())
        )
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=config.request_timeout_seconds,
            transport=transport,
        )

    @property
    def name(self) -> str:
        """Always ``"sandbox"``."""
        return "sandbox"

    def capabilities(self) -> ProviderCapabilities:
        """Cards, in every country and every active ISO 4217 currency (or the configured
        ``currencies``); hosted checkout and webhooks. Amounts go to the simulator in ISO
        minor units, so every exponent (0 to 4) is exact."""
        return ProviderCapabilities(
            methods=frozenset({"card"}),
            currencies=self._currencies,
            features=frozenset({"hosted_checkout", "webhooks", "status", "refunds", "payouts"}),
        )

    async def register_checkout(
        self, request: CheckoutRequest, *, idempotency_key: str
    ) -> CheckoutRegistration:
        """``POST /v1/checkouts`` with our idempotency key in ``Idempotency-Key``."""
        payload = {
            "payment_id": request.payment_id,
            "amount": request.amount.minor,
            "currency": request.amount.currency,
            "country": request.country,
            "method": request.payment_method,
            "buyer_id": request.buyer_id,
            "references": list(request.order_references),
            "return_url": request.return_url,
            "webhook_url": self._webhook_url,
        }
        body = await self._call(
            "POST", "/v1/checkouts", json=payload, headers={"Idempotency-Key": idempotency_key}
        )
        return CheckoutRegistration(
            token=str(body["token"]),
            redirect_url=str(body["redirect_url"]),
            psp_reference=str(body["reference"]),
        )

    async def fetch_status(self, token: str) -> ProviderPaymentState:
        """``GET /v1/checkouts/{token}``."""
        body = await self._call("GET", f"/v1/checkouts/{token}")
        return ProviderPaymentState(
            token=token,
            status=_STATUSES[str(body["status"])],
            failure_code=body.get("failure_code"),
            occurred_at=datetime.fromtimestamp(int(body["updated_at"]), UTC),
        )

    async def refund(self, request: RefundRequest, *, idempotency_key: str) -> RefundResult:
        """``POST /v1/refunds``; the sandbox settles refunds at once."""
        body = await self._call(
            "POST",
            "/v1/refunds",
            json={
                "token": request.token,
                "amount": request.amount.minor,
                "currency": request.amount.currency,
                "reason": request.reason,
                "refund_id": request.refund_id,
            },
            headers={"Idempotency-Key": idempotency_key},
        )
        return RefundResult(status=RefundStatus(str(body["status"])), psp_reference=str(body["id"]))

    async def payout(self, request: PayoutRequest, *, idempotency_key: str) -> PayoutResult:
        """``POST /v1/payouts``; the sandbox settles payouts at once."""
        body = await self._call(
            "POST",
            "/v1/payouts",
            json={
                "seller_id": request.seller_id,
                "amount": request.amount.minor,
                "currency": request.amount.currency,
                "payout_id": request.payout_id,
            },
            headers={"Idempotency-Key": idempotency_key},
        )
        return PayoutResult(
            status=PayoutStatus(str(body["status"])),
            psp_reference=str(body["id"]),
            failure_code=body.get("failure_code"),
        )

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        """Verify ``Sandbox-Signature`` and read the one event of the body: a payment's
        status (``payment.*``) or a chargeback (``dispute.opened|won|lost``)."""
        verify(
            headers.get(SIGNATURE_HEADER),
            body,
            secret=self._config.webhook_secret,
            now=int(time.time()),
            tolerance=self._config.webhook_tolerance_seconds,
            previous_secret=self._config.previous_webhook_secret,
        )
        try:
            event = json.loads(body)
            data = event["data"]
            if str(event.get("type", "")).startswith("dispute."):
                return [
                    DisputeEvent(
                        event_id=str(event["id"]),
                        token=str(data["token"]),
                        dispute_id=str(data["dispute_id"]),
                        status=DisputeStatus(data["status"]),
                        amount=Money(int(data["amount"]), str(data["currency"])),
                        reason=data.get("reason"),
                        occurred_at=datetime.fromtimestamp(int(event["created"]), UTC),
                    )
                ]
            status = _STATUSES[data["status"]]
            return [
                ProviderEvent(
                    event_id=str(event["id"]),
                    token=str(data["token"]),
                    status=status,
                    failure_code=data.get("failure_code"),
                    occurred_at=datetime.fromtimestamp(int(event["created"]), UTC),
                )
            ]
        except (ValueError, KeyError, TypeError, MoneyError) as error:
            raise WebhookVerificationError(f"the webhook body cannot be read: {error}") from None

    async def fetch_settlement_report(self, day: date) -> bytes | None:
        """``GET /_admin/settlements/{day}``: the sandbox's settlement file (CSV) of the UTC
        day ``day``, read by :class:`~paymux_sandbox.settlement.SandboxSettlementParser`;
        ``None`` for a day that has not begun at the sandbox."""
        response = await self._send("GET", f"/_admin/settlements/{day.isoformat()}")
        if response.status_code == 404:
            return None
        _raise_for_status(response)
        return response.content

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()

    async def _call(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        response = await self._send(method, path, **options)
        _raise_for_status(response)
        body: dict[str, Any] = response.json()
        return body

    async def _send(self, method: str, path: str, **options: Any) -> httpx.Response:
        try:
            # httpx's timeouts bound each read; this bounds the whole call.
            async with asyncio.timeout(self._config.request_timeout_seconds):
                response = await self._client.request(method, path, **options)
        except (TimeoutError, httpx.TimeoutException) as error:
            raise ProviderTimeoutError(
                f"the sandbox PSP did not answer in time: {error!r}"
            ) from error
        except httpx.HTTPError as error:
            raise ProviderUnavailableError(f"the sandbox PSP is unreachable: {error!r}") from error
        return response


def _raise_for_status(response: httpx.Response) -> None:
    """Raise the provider error an answer that is not a success stands for."""
    if response.status_code == 429:
        raise ProviderRateLimitedError(
            "the sandbox PSP is rate limiting", retry_after_seconds=_retry_after(response)
        )
    if response.status_code >= 500:
        raise ProviderUnavailableError(f"the sandbox PSP answered {response.status_code}")
    if response.status_code >= 400:
        body = response.json()
        detail = body.get("detail", body) if isinstance(body, dict) else body
        code = detail.get("code", "provider-rejected") if isinstance(detail, dict) else None
        raise ProviderRejectedError(
            f"the sandbox PSP refused the request: {detail}", code=code or "provider-rejected"
        )


def _retry_after(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds, if the answer has a readable one."""
    return parse_retry_after(response.headers.get("Retry-After"))
