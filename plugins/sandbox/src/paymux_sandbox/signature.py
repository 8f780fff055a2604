"""Webhook signatures, Stripe's way: HMAC-SHA256 over ``"{timestamp}.{body}"``.

Header: ``Sandbox-Signature: t=<unix seconds>,v1=<hex digest>``.
"""

from __future__ import annotations

import hashlib
import hmac

from paymux.core.ports.provider import WebhookVerificationError

SIGNATURE_HEADER = "sandbox-signature"


def sign(body: bytes, *, secret: str, timestamp: int) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(header: str | None, body: bytes, *, secret: str, now: int, tolerance: int) -> None:
    """Check a signature header; raise :class:`WebhookVerificationError` when it does not hold."""
    if not header:
        raise WebhookVerificationError("the Sandbox-Signature header is missing")
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        parts.setdefault(name, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        raise WebhookVerificationError("the signature has no valid timestamp") from None
    if abs(now - timestamp) > tolerance:
        raise WebhookVerificationError("the signature's timestamp is outside the tolerance")
    expected = sign(body, secret=secret, timestamp=timestamp).split("v1=", 1)[1]
    if not any(hmac.compare_digest(expected, given) for given in parts.get("v1", [])):
        raise WebhookVerificationError("no signature matches the body")
