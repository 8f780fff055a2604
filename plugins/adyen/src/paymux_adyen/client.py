"""The Adyen SDK (sync only) behind an async, classified call.

Each call runs in a worker thread (:func:`asyncio.to_thread`) with the SDK's own HTTP timeout
and an overall :func:`asyncio.timeout`. The SDK never retries; paymux retries itself. Every
failure becomes one of the provider port's errors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import Adyen
import requests
from Adyen.exceptions import AdyenAPIResponseError, AdyenError

from paymux.core.ports.provider import (
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    parse_retry_after,
)
from paymux_adyen.notifications import slug

APPLICATION_NAME = "paymux"

_RETRYABLE_STATUSES = frozenset({409, 425})
_AUTH_CODES = {401: "adyen-authentication-failed", 403: "adyen-permission-denied"}


def build_sdk(
    *, api_key: str, environment: str, live_endpoint_prefix: str | None, timeout_seconds: float
) -> Any:
    """An ``Adyen.Adyen`` instance of its own (never the module-level singletons)."""
    return Adyen.Adyen(
        xapikey=api_key,
        platform=environment,
        live_endpoint_prefix=live_endpoint_prefix,
        http_timeout=timeout_seconds,
        http_force="requests",
        application_name=APPLICATION_NAME,
    )


def rebase(service: Any, base_url: str) -> None:
    """Point one generated service at ``base_url``, keeping its API path and version.

    The SDK has no base-URL option: each service holds a hard-coded ``baseUrl`` such as
    ``https://checkout-test.adyen.com/v72``. Checkout keeps a ``/checkout`` prefix so its
    paths do not collide with the other APIs on one fake server.
    """
    parts = urlsplit(service.baseUrl)
    host = parts.netloc.split(".")[0].replace("-test", "").replace("-live", "")
    prefix = "/checkout" if host == "checkout" else ""
    service.baseUrl = base_url.rstrip("/") + prefix + parts.path


def classify(error: Exception) -> Exception:
    """The provider-port error for an SDK or transport failure."""
    if isinstance(error, requests.ConnectTimeout):
        return ProviderUnavailableError(f"Adyen could not be reached in time: {error!r}")
    if isinstance(error, requests.Timeout):
        return ProviderTimeoutError(f"Adyen did not answer in time: {error!r}")
    if isinstance(error, requests.RequestException):
        return ProviderUnavailableError(f"the connection to Adyen failed: {error!r}")
    if isinstance(error, AdyenAPIResponseError):
        status = int(error.status_code or 0)
        headers = error.headers if isinstance(error.headers, dict) else dict(error.headers or {})
        if status == 429 or status >= 500 or status in _RETRYABLE_STATUSES:
            lowered = {str(name).lower(): value for name, value in headers.items()}
            header = lowered.get("retry-after")
            retry_after = parse_retry_after(str(header)) if header is not None else None
            hint = f" (Retry-After: {header})" if header else ""
            message = f"Adyen answered {status}{hint}: {error.message}"
            if status == 429:  # rate limited: Adyen did nothing
                return ProviderRateLimitedError(message, retry_after_seconds=retry_after)
            return ProviderUnavailableError(message, retry_after_seconds=retry_after)
        code = _AUTH_CODES.get(status)
        if code is None:
            code = slug(str(error.error_code)) if error.error_code else None
        return ProviderRejectedError(
            f"Adyen refused the request ({status}): {error.message}",
            code=code or f"adyen-http-{status or 'error'}",
        )
    if isinstance(error, AdyenError):
        return ProviderRejectedError(f"the Adyen SDK refused the call: {error}", code="adyen-sdk")
    return error


async def call(
    deadline_seconds: float, function: Callable[..., Any], *args: Any, **kwargs: Any
) -> dict[str, Any]:
    """Run one SDK call in a thread and return its JSON answer, or raise a port error."""
    try:
        async with asyncio.timeout(deadline_seconds):
            result = await asyncio.to_thread(function, *args, **kwargs)
    except TimeoutError as error:
        raise ProviderTimeoutError(f"Adyen did not answer within {deadline_seconds} s") from error
    except (requests.RequestException, AdyenError) as error:
        raise classify(error) from error
    message = result.message
    if not isinstance(message, dict):
        raise ProviderUnavailableError(f"Adyen answered {result.status_code} without a JSON body")
    return message
