"""How the fake Stripe delivers webhooks: signed events POSTed in order, with retries.

Stripe retries a delivery that did not get a 2xx answer; so does :class:`WebhookSender`, a
few times with a growing pause (paymux answers ``404`` to an event about a payment it does
not know yet). Stdlib only, one daemon thread per batch, stopped by :meth:`WebhookSender.stop`.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

SignedWebhook = tuple[Mapping[str, str], bytes]
"""Headers and body of one webhook, as :meth:`FakeStripe.signed` makes them."""


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One POST of a webhook: the answer's status (``None``: no answer) and any error."""

    event_body: bytes
    status: int | None
    error: str | None = None


class WebhookSender:
    """Delivers signed webhooks to one URL from background threads, each batch in order."""

    def __init__(
        self,
        url: str,
        *,
        attempts: int = 6,
        backoff_seconds: float = 0.2,
        timeout_seconds: float = 5.0,
    ) -> None:
        if attempts < 1:
            raise ValueError("a webhook needs at least one delivery attempt")
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"the webhook URL must be http(s), not {url!r}")
        self.url = url
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self.timeout_seconds = timeout_seconds
        self.log: list[DeliveryAttempt] = []
        """Every attempt so far, in order (for tests and for a host looking at its sandbox)."""
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def send(self, webhooks: Sequence[SignedWebhook]) -> None:
        """Deliver ``webhooks`` one after the other, in the background."""
        if self._stopping.is_set():
            return
        thread = threading.Thread(
            target=self._deliver_all, args=(list(webhooks),), name="fake-stripe-webhooks"
        )
        thread.daemon = True
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def delivered(self) -> list[bytes]:
        """Bodies of the webhooks that got a 2xx answer, in order."""
        with self._lock:
            return [a.event_body for a in self.log if a.status is not None and a.status < 300]

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until every delivery so far is done (delivered or given up)."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)

    def stop(self) -> None:
        """Drop pending retries and wait (briefly) for the delivery threads. Idempotent."""
        self._stopping.set()
        self.wait_idle(timeout=self.timeout_seconds + 1)

    def _deliver_all(self, webhooks: list[SignedWebhook]) -> None:
        for headers, body in webhooks:
            if self._stopping.is_set():
                return
            self._deliver(headers, body)

    def _deliver(self, headers: Mapping[str, str], body: bytes) -> bool:
        pause = self.backoff_seconds
        for attempt in range(self.attempts):
            if attempt and self._stopping.wait(pause):
                return False
            pause *= 2
            if self._stopping.is_set():
                return False
            status, error = self._post(headers, body)
            with self._lock:
                self.log.append(DeliveryAttempt(body, status, error))
            if status is not None and 200 <= status < 300:
                return True
        return False

    def _post(self, headers: Mapping[str, str], body: bytes) -> tuple[int | None, str | None]:
        request = urllib.request.Request(  # noqa: S310 - the configured http(s) webhook URL
            self.url,
            data=body,
            headers={**headers, "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as answer:  # noqa: S310
                return int(answer.status), None
        except urllib.error.HTTPError as error:
            error.close()
            return int(error.code), None
        except (OSError, ValueError) as error:
            return None, repr(error)
