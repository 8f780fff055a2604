"""Signed links to the buyer's status page: only who got the link can see the payment."""

from __future__ import annotations

import hashlib
import hmac


class StatusLinks:
    """Builds and checks ``/checkout/{payment_id}?sig=...`` links."""

    def __init__(self, *, public_url: str, secret: str) -> None:
        self._public_url = public_url.rstrip("/")
        self._secret = secret.encode()

    def signature(self, payment_id: str) -> str:
        """The link's signature for ``payment_id``."""
        digest = hmac.new(self._secret, f"status-page:{payment_id}".encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    def url(self, payment_id: str) -> str:
        """The absolute URL of the payment's status page."""
        return f"{self._public_url}/checkout/{payment_id}?sig={self.signature(payment_id)}"

    def verify(self, payment_id: str, signature: str) -> bool:
        """Whether ``signature`` was made for ``payment_id``."""
        return hmac.compare_digest(self.signature(payment_id), signature)
