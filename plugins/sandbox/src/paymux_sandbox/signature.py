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


def verify(
    header: str | None,
    body: bytes,
    *,
    secret: str,
    now: int,
    tolerance: int,
    previous_secret: str | None = None,
) -> None:
    """Check a signature header; raise :class:`WebhookVerificationError` when it does not hold.

    During a rotation a signature with ``previous_secret`` holds too."""
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
    secrets = [secret] if previous_secret is None else [secret, previous_secret]
    expected = [sign(body, secret=key, timestamp=timestamp).split("v1=", 1)[1] for key in secrets]
    given = parts.get("v1", [])
    if not any(hmac.compare_digest(mac, sent) for mac in expected for sent in given):
        raise WebhookVerificationError("no signature matches the body")
