"""Stripe SDK exceptions classified as paymux provider errors."""

from __future__ import annotations

import re

import httpx
import stripe

from paymux.core.ports.provider import (
    ProviderError,
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    parse_retry_after,
)

_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_MAX_CODE = 64


def slug(value: str | None, default: str) -> str:
    """``card_declined`` as ``card-declined``; ``default`` when empty (at most 64 chars)."""
    text = _NOT_SLUG.sub("-", (value or "").lower()).strip("-")
    return (text or default)[:_MAX_CODE]


def _caused_by_timeout(error: BaseException) -> bool:
    cause = error.__cause__
    return isinstance(cause, httpx.TimeoutException | TimeoutError)


def _retry_after(error: stripe.StripeError) -> float | None:
    """The answer's ``Retry-After`` in seconds, if it had a readable one."""
    headers = error.headers or {}
    for name, value in headers.items():
        if str(name).lower() == "retry-after":
            return parse_retry_after(str(value))
    return None


def classify(error: stripe.StripeError) -> ProviderError:
    """The paymux error for a failed Stripe call.

    * ``CardError`` (402): rejected, code = the decline code (``insufficient-funds``) or the
      error code (``card-declined``);
    * ``IdempotencyError``: rejected, ``idempotency-key-reused`` (same key, other body);
    * ``RateLimitError`` (429): rate limited (retryable, Stripe did nothing), with the
      ``Retry-After`` header in ``retry_after_seconds``;
    * ``APIConnectionError``: a timeout (read timed out) or unavailable (refused, reset):
      either way the outcome is unknown;
    * ``APIError`` (5xx, 409 ``lock_timeout``, an unreadable answer): unavailable (retryable);
    * authentication, permission and other 4xx errors: rejected with Stripe's code.
    """
    status = error.http_status
    message = f"Stripe: {error.user_message or error!s}"
    if isinstance(error, stripe.CardError):
        decline = error.error.decline_code if error.error is not None else None
        return ProviderRejectedError(message, code=slug(decline or error.code, "card-declined"))
    if isinstance(error, stripe.IdempotencyError):
        return ProviderRejectedError(message, code="idempotency-key-reused")
    if isinstance(error, stripe.RateLimitError) or status == 429:
        return ProviderRateLimitedError(message, retry_after_seconds=_retry_after(error))
    if isinstance(error, stripe.APIConnectionError):
        if _caused_by_timeout(error):
            return ProviderTimeoutError(message)
        return ProviderUnavailableError(message)
    if status is None or status >= 500 or status == 409:
        return ProviderUnavailableError(message, retry_after_seconds=_retry_after(error))
    if isinstance(error, stripe.AuthenticationError):
        return ProviderRejectedError(message, code="authentication-failed")
    if isinstance(error, stripe.PermissionError):
        return ProviderRejectedError(message, code="permission-denied")
    return ProviderRejectedError(message, code=slug(error.code, "provider-rejected"))
