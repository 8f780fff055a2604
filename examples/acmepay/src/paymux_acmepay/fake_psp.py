"""A tiny AcmePay for tests: the API in memory, behind an httpx transport (no network).

It keeps checkouts and refunds, replays answers per ``Idempotency-Key``, signs webhooks as
AcmePay does, and fails the next request on demand (:meth:`FakeAcmePay.fail_next`).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from paymux.currencies import Money, MoneyError
from paymux_acmepay.provider import sign

Fault = Literal["timeout", "unavailable", "rejected", "reset"]
State = Literal["open", "paid", "failed", "expired"]


@dataclass
class Checkout:
    """A checkout at the fake: the amount as AcmePay received it."""

    id: str
    amount: str
    currency: str
    state: State = "open"
    failure_reason: str | None = None
    refunded: int = 0

    def json(self) -> dict[str, Any]:
        """The API's representation."""
        return {
            "id": self.id,
            "url": f"https://pay.acmepay.example/{self.id}",
            "state": self.state,
            "failure_reason": self.failure_reason,
        }


class FakeAcmePay:
    """AcmePay's API in memory; :meth:`transport` connects an httpx client to it."""

    def __init__(self, *, webhook_secret: str, stall_seconds: float = 1.0) -> None:
        self.webhook_secret = webhook_secret
        self.stall_seconds = stall_seconds
        self.checkouts: dict[str, Checkout] = {}
        self._answers: dict[str, tuple[int, Any]] = {}  # status and JSON, by idempotency key
        self._faults: deque[Fault] = deque()

    def transport(self) -> httpx.AsyncBaseTransport:
        """An httpx transport whose requests this fake answers."""
        return httpx.MockTransport(self._handle)

    def fail_next(self, fault: Fault) -> None:
        """``timeout``/``reset``: handle the next request, answer late or drop the
        connection; ``unavailable``: 503; ``rejected``: 422. Nothing done for the last two."""
        self._faults.append(fault)

    def complete(self, checkout_id: str, state: State, failure_reason: str | None = None) -> None:
        """The buyer finished the hosted page."""
        checkout = self.checkouts[checkout_id]
        checkout.state, checkout.failure_reason = state, failure_reason

    def webhook(self, checkout_id: str) -> tuple[dict[str, str], bytes]:
        """The signed ``checkout.updated`` webhook AcmePay sends, with a fresh event id."""
        event = {
            "id": f"evt_{secrets.token_hex(8)}",
            "type": "checkout.updated",
            "checkout": self.checkouts[checkout_id].json(),
        }
        body = json.dumps(event).encode()
        return {"acme-signature": sign(body, self.webhook_secret)}, body

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        fault = self._faults.popleft() if self._faults else None
        if fault == "unavailable":
            return httpx.Response(503)
        if fault == "rejected":
            return _error(422, "invalid_request")
        response = self._answer(request)
        if fault == "reset":
            raise httpx.RemoteProtocolError("connection reset by peer", request=request)
        if fault == "timeout":
            await asyncio.sleep(self.stall_seconds)
        return response

    def _answer(self, request: httpx.Request) -> httpx.Response:
        key = request.headers.get("idempotency-key")
        if key is not None and key in self._answers:
            status, content = self._answers[key]
            return httpx.Response(status, json=content)
        parts = request.url.path.strip("/").split("/")
        if request.method == "POST" and parts == ["checkouts"]:
            response = self._create(json.loads(request.content))
        elif request.method == "GET" and len(parts) == 2 and parts[0] == "checkouts":
            checkout = self.checkouts.get(parts[1])
            response = httpx.Response(200, json=checkout.json()) if checkout else _not_found()
        elif request.method == "POST" and len(parts) == 3 and parts[2] == "refunds":
            response = self._refund(parts[1], json.loads(request.content))
        else:
            response = _not_found()
        if key is not None and response.status_code < 500:
            self._answers[key] = (response.status_code, response.json())
        return response

    def _create(self, body: dict[str, Any]) -> httpx.Response:
        try:
            Money.parse(body["amount"], body["currency"])
        except (KeyError, MoneyError):
            return _error(422, "invalid_amount")
        checkout = Checkout(f"chk_{secrets.token_hex(8)}", body["amount"], body["currency"])
        self.checkouts[checkout.id] = checkout
        return httpx.Response(201, json=checkout.json())

    def _refund(self, checkout_id: str, body: dict[str, Any]) -> httpx.Response:
        checkout = self.checkouts.get(checkout_id)
        if checkout is None:
            return _not_found()
        if checkout.state != "paid" or body.get("currency") != checkout.currency:
            return _error(422, "not_refundable")
        paid = Money.parse(checkout.amount, checkout.currency).minor
        amount = Money.parse(body["amount"], checkout.currency).minor
        if amount > paid - checkout.refunded:
            return _error(422, "refund_exceeds_payment")
        checkout.refunded += amount
        return httpx.Response(201, json={"id": f"rf_{secrets.token_hex(8)}", "state": "done"})


def _error(status: int, code: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": code}})


def _not_found() -> httpx.Response:
    return _error(404, "not_found")
