"""Square's failures, classified as paymux's provider errors.

* no answer in time → :class:`ProviderTimeoutError` (outcome unknown);
* connection refused or reset, any other transport failure → :class:`ProviderUnavailableError`;
* 429 (rate limited: Square did nothing) → :class:`SquareRateLimitedError`, a
  :class:`ProviderRateLimitedError` with ``Retry-After`` in ``retry_after_seconds``;
* 5xx, 408 and 409 (a conflicting request still in flight) →
  :class:`ProviderUnavailableError` (retryable, outcome unknown);
* every other 4xx (declines included) → :class:`ProviderRejectedError` whose ``code`` is
  Square's first error code as a slug (``GENERIC_DECLINE`` → ``generic-decline``).
"""

from __future__ import annotations

from typing import Any

import httpx
from square.core.api_error import ApiError

from paymux.core.ports.provider import (
    ProviderError,
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    parse_retry_after,
)

_RETRYABLE_STATUSES = frozenset({408, 409})


class SquareRateLimitedError(ProviderRateLimitedError):
    """Square answered 429 and did nothing; ``retry_after_seconds`` is its ``Retry-After``
    when it sent one (the worker waits that long before the next attempt)."""


def slug(code: str) -> str:
    """``GENERIC_DECLINE`` → ``generic-decline`` (at most 64 characters)."""
    return code.strip().lower().replace("_", "-")[:64] or "provider-rejected"


def first_error(body: Any) -> tuple[str, str, str]:
    """``(category, code, detail)`` of the first entry of a Square ``errors`` body."""
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        error = errors[0]
        return (
            str(error.get("category", "API_ERROR")),
            str(error.get("code", "UNKNOWN")),
            str(error.get("detail", "")),
        )
    return ("API_ERROR", "UNKNOWN", str(body)[:200])


def _retry_after(headers: Any) -> float | None:
    if not headers:
        return None
    lowered = {str(name).lower(): value for name, value in dict(headers).items()}
    value = lowered.get("retry-after")
    return parse_retry_after(str(value)) if value is not None else None


def from_api_error(error: ApiError, *, operation: str) -> ProviderError:
    """The provider error for a non-2xx answer of Square."""
    status = error.status_code or 0
    category, code, detail = first_error(error.body)
    message = f"Square answered {status} to {operation}: {category} {code} {detail}".strip()
    if status == 429:
        return SquareRateLimitedError(message, retry_after_seconds=_retry_after(error.headers))
    if status >= 500 or status in _RETRYABLE_STATUSES or status == 0:
        return ProviderUnavailableError(message)
    return ProviderRejectedError(message, code=slug(code))


def from_transport_error(error: BaseException, *, operation: str) -> ProviderError:
    """The provider error for a call that got no answer (timeout, refused or reset)."""
    if isinstance(error, TimeoutError | httpx.TimeoutException):
        return ProviderTimeoutError(f"Square did not answer {operation} in time: {error!r}")
    return ProviderUnavailableError(f"Square could not be reached for {operation}: {error!r}")
