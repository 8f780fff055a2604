"""Signed, expiring links to the buyer's status page: only who got the link can see the payment."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from datetime import datetime
from enum import Enum

from paymux.core.domain.models import PaymentEvent


class LinkCheck(Enum):
    """What :meth:`StatusLinks.check` found."""

    VALID = "valid"
    FORGED = "forged"
    """Not signed with this instance's secret for this payment and expiry (or no expiry)."""
    EXPIRED = "expired"
    """Signed, but past its expiry: the buyer needs a new link from the shop."""


class StatusLinks:
    """Builds and checks ``/checkout/{payment_id}?sig=...&exp=...`` links.

    The signature is an HMAC-SHA256 of the payment id and the expiry (Unix seconds) under
    ``secret``; a payment's link is valid until ``ttl_seconds`` after the payment was made.
    The expiry comes from the payment, not from the clock, so every link of one payment is
    the same: the return URL sent to the PSP again on a retried registration must not change
    (the PSP would refuse the same idempotency key with another body).
    """

    def __init__(
        self,
        *,
        public_url: str,
        secret: str,
        ttl_seconds: int = 30 * 24 * 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self._public_url = public_url.rstrip("/")
        self._secret = secret.encode()
        self._ttl_seconds = ttl_seconds
        self._clock = clock

    def signature(self, payment_id: str, expires: int) -> str:
        """The link's signature for ``payment_id`` valid until ``expires`` (Unix seconds)."""
        message = f"status-page:{payment_id}:{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:32]

    def url(self, payment_id: str, *, issued_at: datetime) -> str:
        """The absolute URL of a status page, valid until ``ttl_seconds`` after ``issued_at``."""
        expires = int(issued_at.timestamp()) + self._ttl_seconds
        signature = self.signature(payment_id, expires)
        return f"{self._public_url}/checkout/{payment_id}?sig={signature}&exp={expires}"

    def for_payment(self, payment: PaymentEvent) -> str:
        """The URL of ``payment``'s status page (valid ``ttl_seconds`` from its creation)."""
        return self.url(payment.id, issued_at=payment.created_at)

    def check(self, payment_id: str, signature: str, expires: int | None) -> LinkCheck:
        """Whether ``signature`` was made for ``payment_id`` and ``expires``, and still holds.

        A forged link is told apart from an expired one only after the signature matched, so
        nobody learns anything about a payment from a link they did not get.
        """
        if (
            expires is None
            or not signature.isascii()  # compare_digest refuses non-ASCII text: no 500
            or not hmac.compare_digest(self.signature(payment_id, expires), signature)
        ):
            return LinkCheck.FORGED
        if self._clock() >= expires:
            return LinkCheck.EXPIRED
        return LinkCheck.VALID
