"""Statement uploads are signed with ``Bank-Statement-Signature``: hex HMAC-SHA256 of the body.

There is no timestamp in the scheme: replaying an upload is harmless, because every event
carries an id derived from its statement line and paymux applies each id once.
"""

from __future__ import annotations

import hashlib
import hmac

from paymux.core.ports.provider import WebhookVerificationError

SIGNATURE_HEADER = "bank-statement-signature"
"""The header's name, lower-case as paymux hands headers to providers."""


def sign(body: bytes, *, secret: str) -> str:
    """The header value for ``body``."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(
    header: str | None, body: bytes, *, secret: str, previous_secret: str | None = None
) -> None:
    """Raise :class:`WebhookVerificationError` unless ``header`` signs ``body`` with
    ``secret`` or (during a rotation) ``previous_secret``."""
    if not header:
        raise WebhookVerificationError("the Bank-Statement-Signature header is missing")
    given = header.strip().lower()
    secrets = [secret] if previous_secret is None else [secret, previous_secret]
    if not any(hmac.compare_digest(sign(body, secret=key), given) for key in secrets):
        raise WebhookVerificationError("the Bank-Statement-Signature does not match the body")
