"""paymux's side of AcmePay's hosted checkout API.

AcmePay is a fictional PSP: JSON over HTTPS, amounts as decimal strings ("12.34"), an
``Idempotency-Key`` header, and webhooks signed with a hex HMAC-SHA256 of the raw body in
the ``Acme-Signature`` header.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any

import httpx

from paymux.core.domain.refunds import RefundStatus
from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import (
    CheckoutRegistration,
    CheckoutRequest,
    PayoutRequest,
    PayoutResult,
    ProviderCapabilities,
    ProviderEvent,
    ProviderPaymentState,
    ProviderRejectedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RefundRequest,
    RefundResult,
    WebhookEvent,
    WebhookVerificationError,
)
from paymux.currencies import Money

API_URL = "https://api.acmepay.example"

STATUSES = {
    "open": PaymentStatus.PENDING,
    "paid": PaymentStatus.SUCCEEDED,
    "failed": PaymentStatus.FAILED,
    "expired": PaymentStatus.EXPIRED,
}
"""Every checkout state of AcmePay's API, in paymux's terms."""

_REFUND_STATUSES = {"done": RefundStatus.SUCCEEDED, "processing": RefundStatus.PENDING}
_SLUG = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*")


def sign(body: bytes, secret: str) -> str:
    """AcmePay's webhook signature: hex HMAC-SHA256 of the raw body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class AcmePayProvider:
    """Implements paymux's PaymentProvider protocol (structural typing: no base class)."""

    def __init__(
        self,
        *,
        api_key: str,
        webhook_secret: str,
        webhook_url: str,
        base_url: str = API_URL,
        timeout_seconds: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._webhook_secret = webhook_secret
        self._webhook_url = webhook_url
        self._timeout = timeout_seconds
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout_seconds,
            transport=transport,
        )

    @property
    def name(self) -> str:
        """Always ``"acmepay"``."""
        return "acmepay"

    def capabilities(self) -> ProviderCapabilities:
        """Cards in four countries and four currencies; refunds, no payouts."""
        return ProviderCapabilities(
            methods=frozenset({"card"}),
            countries=frozenset({"DE", "FR", "NL", "GB"}),
            currencies=frozenset({"EUR", "GBP", "JPY", "KWD"}),
            features=frozenset({"refunds"}),
        )

    async def register_checkout(
        self, request: CheckoutRequest, *, idempotency_key: str
    ) -> CheckoutRegistration:
        """``POST /checkouts``; our idempotency key goes in AcmePay's ``Idempotency-Key``."""
        body = await self._call(
            "POST",
            "/checkouts",
            json={
                **_amount(request.amount),
                "reference": request.payment_id,
                "return_url": request.return_url,
                "notify_url": self._webhook_url,
            },
            headers={"Idempotency-Key": idempotency_key},
        )
        return CheckoutRegistration(token=str(body["id"]), redirect_url=str(body["url"]))

    async def fetch_status(self, token: str) -> ProviderPaymentState:
        """``GET /checkouts/{id}``: read-only."""
        body = await self._call("GET", f"/checkouts/{token}")
        return ProviderPaymentState(
            token=token,
            status=STATUSES[str(body["state"])],
            failure_code=body.get("failure_reason"),
        )

    async def refund(self, request: RefundRequest, *, idempotency_key: str) -> RefundResult:
        """``POST /checkouts/{id}/refunds`` with the same idempotency key on a retry."""
        body = await self._call(
            "POST",
            f"/checkouts/{request.token}/refunds",
            json={**_amount(request.amount), "reason": request.reason},
            headers={"Idempotency-Key": idempotency_key},
        )
        return RefundResult(
            status=_REFUND_STATUSES.get(str(body["state"]), RefundStatus.FAILED),
            psp_reference=str(body["id"]),
        )

    async def payout(self, request: PayoutRequest, *, idempotency_key: str) -> PayoutResult:
        """AcmePay has no payout API (and the capabilities do not claim ``payouts``)."""
        raise ProviderRejectedError("AcmePay pays sellers out of band", code="no_payouts")

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[WebhookEvent]:
        """Check ``Acme-Signature``, then read the event (no I/O)."""
        expected = sign(body, self._webhook_secret)
        if not hmac.compare_digest(expected, headers.get("acme-signature", "")):
            raise WebhookVerificationError("bad AcmePay signature")
        try:
            event = json.loads(body)
            if event["type"] != "checkout.updated":
                return []  # a kind of event paymux does not use
            checkout = event["checkout"]
            return [
                ProviderEvent(
                    event_id=str(event["id"]),
                    token=str(checkout["id"]),
                    status=STATUSES[checkout["state"]],
                    failure_code=checkout.get("failure_reason"),
                )
            ]
        except (ValueError, KeyError, TypeError) as error:
            raise WebhookVerificationError(f"unreadable AcmePay webhook: {error}") from None

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()

    async def _call(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        try:
            async with asyncio.timeout(self._timeout):  # bounds the whole call
                response = await self._client.request(method, path, **options)
        except (TimeoutError, httpx.TimeoutException) as error:
            raise ProviderTimeoutError(f"AcmePay did not answer: {error!r}") from error
        except httpx.HTTPError as error:  # refused, reset: the request may have arrived
            raise ProviderUnavailableError(f"AcmePay is unreachable: {error!r}") from error
        if response.status_code >= 500 or response.status_code in (409, 429):
            raise ProviderUnavailableError(f"AcmePay answered {response.status_code}")
        if response.status_code >= 400:
            raise ProviderRejectedError(response.text, code=_error_code(response))
        body: dict[str, Any] = response.json()
        return body


def _amount(money: Money) -> dict[str, str]:
    """AcmePay's encoding: a decimal string with the currency's ISO 4217 decimals."""
    return {"amount": money.amount_str, "currency": money.currency}


def _error_code(response: httpx.Response) -> str:
    """AcmePay's error code as a slug, or ``acmepay_rejected``."""
    try:
        code = str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return "acmepay_rejected"
    return code if _SLUG.fullmatch(code) and len(code) <= 64 else "acmepay_rejected"
