"""Delivery of the fake Square's webhook events to paymux, signed as Square signs them.

A :class:`WebhookSender` takes events from :attr:`FakeSquare.on_event
<paymux_square.fake_square.FakeSquare.on_event>` and posts each, in the order they happened,
from one background thread: the JSON body with ``x-square-hmacsha256-signature`` = base64
HMAC-SHA256 (signature key, notification URL + body). An answer other than ``2xx`` (paymux
answers ``404`` for a token it does not know yet) or a connection error is retried a few
times with a growing pause, as Square retries; then the event is dropped and logged.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from paymux_square.webhooks import SIGNATURE_HEADER, sign

log = logging.getLogger(__name__)

_STOP = object()


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One POST of an event: its ``event_id`` and the answer (``None``: no answer)."""

    event_id: str
    status_code: int | None


class WebhookSender:
    """Posts events to ``target_url`` in a daemon thread, with retries on failures.

    ``notification_url`` is the URL Square signs with the body; it defaults to
    ``target_url`` and must be exactly the URL the receiving provider verifies against.
    """

    def __init__(
        self,
        target_url: str,
        *,
        signature_key: str,
        notification_url: str | None = None,
        attempts: int = 6,
        first_pause_seconds: float = 0.1,
        timeout_seconds: float = 5.0,
    ) -> None:
        self.target_url = target_url
        self.notification_url = notification_url or target_url
        self._signature_key = signature_key
        self._attempts = max(1, attempts)
        self._first_pause = first_pause_seconds
        self._timeout = timeout_seconds
        self._queue: queue.Queue[object] = queue.Queue()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.attempts: list[DeliveryAttempt] = []
        """Every POST made, oldest first."""
        self.delivered: list[str] = []
        """The ``event_id`` of each event paymux accepted (``2xx``)."""
        self.dropped: list[str] = []
        """The ``event_id`` of each event given up after the last attempt."""

    def signed(self, event: Mapping[str, Any]) -> tuple[dict[str, str], bytes]:
        """The headers and body Square sends for ``event``."""
        body = json.dumps(event).encode()
        signature = sign(
            body, signature_key=self._signature_key, notification_url=self.notification_url
        )
        return {"content-type": "application/json", SIGNATURE_HEADER: signature}, body

    def __call__(self, event: Mapping[str, Any]) -> None:
        """Queue ``event`` for delivery (a :attr:`FakeSquare.on_event` callback)."""
        with self._lock:
            if self._stopping.is_set():
                return
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="fake-square-webhooks", daemon=True
                )
                self._thread.start()
            self._queue.put(dict(event))

    def stop(self, timeout_seconds: float = 5.0) -> None:
        """Stop delivering (pending retries are abandoned); idempotent."""
        with self._lock:
            self._stopping.set()
            thread = self._thread
        self._queue.put(_STOP)
        if thread is not None:
            thread.join(timeout=timeout_seconds)

    def _run(self) -> None:
        with httpx.Client(timeout=self._timeout, trust_env=False) as client:
            while True:
                event = self._queue.get()
                if event is _STOP or self._stopping.is_set():
                    return
                if isinstance(event, dict):
                    self._deliver(client, event)

    def _deliver(self, client: httpx.Client, event: dict[str, Any]) -> None:
        headers, body = self.signed(event)
        event_id = str(event.get("event_id"))
        pause = self._first_pause
        for attempt in range(1, self._attempts + 1):
            status: int | None
            try:
                status = client.post(self.target_url, content=body, headers=headers).status_code
            except httpx.HTTPError as error:
                log.debug("fake Square: webhook %s not delivered: %r", event_id, error)
                status = None
            self.attempts.append(DeliveryAttempt(event_id, status))
            if status is not None and 200 <= status < 300:
                self.delivered.append(event_id)
                return
            if attempt < self._attempts and self._stopping.wait(pause):
                return
            pause *= 2
        log.warning(
            "fake Square: gave up delivering webhook %s (%s) to %s",
            event_id,
            event.get("type"),
            self.target_url,
        )
        self.dropped.append(event_id)
