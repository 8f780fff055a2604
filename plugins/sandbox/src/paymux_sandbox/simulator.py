"""The sandbox PSP: a small payment service provider that runs beside paymux, with no network.

It does what a real PSP does for a hosted checkout: registers payments (idempotently, on the
``Idempotency-Key`` header), serves a hosted payment page per token, answers status queries,
and sends signed webhooks, with retries, to the URL given at registration. Test cards choose
the outcome (see :mod:`paymux_sandbox.cards`). Card numbers are never stored or logged: only
the last four digits are kept. Every money movement it processes is booked
(:mod:`paymux_sandbox.bookings`), and :meth:`SandboxPsp.settlement_file` writes a day's
settlement file from those bookings (:mod:`paymux_sandbox.settlement_writer`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from html import escape
from typing import Annotated, Any, Literal

import httpx
from fastapi import FastAPI, Form, Header, HTTPException
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paymux.currencies import Money, format_money
from paymux_sandbox.admin import admin_router
from paymux_sandbox.bookings import (
    Booking,
    BookingType,
    capture_fee,
    new_line_id,
    sandbox_rate,
    settled_amount,
)
from paymux_sandbox.cards import (
    TEST_CARDS,
    TIMEOUT_BUYER_ID,
    InvalidCardError,
    Scenario,
    normalize_card_number,
    scenario_for,
)
from paymux_sandbox.config import SandboxConfig
from paymux_sandbox.faults import Fault, FaultPlan, WebhookFault, operation_of
from paymux_sandbox.settlement_faults import SettlementFaults
from paymux_sandbox.settlement_writer import settlement_file
from paymux_sandbox.signature import SIGNATURE_HEADER, sign

log = logging.getLogger(__name__)

REJECTED_CODE = "sandbox_rejected"
"""The error code of a scripted ``rejected`` answer."""


class ConnectionDropped(Exception):  # noqa: N818 - named after what the client sees
    """The simulator handled a request and then dropped the connection (a scripted ``reset``).

    :meth:`SandboxPsp.transport` turns it into the error httpx raises for a dropped
    connection; served by a real HTTP server, the client sees a 500 or a broken connection.
    """


class RefundIn(BaseModel):
    """A refund request, as the sandbox provider sends it."""

    model_config = ConfigDict(extra="forbid")

    token: str
    amount: int = Field(gt=0)
    currency: str = Field(min_length=3, max_length=3)
    reason: str | None = None
    refund_id: str | None = Field(default=None, min_length=1, max_length=255)
    """paymux's id of the refund, echoed in settlement files."""


class PayoutIn(BaseModel):
    """A payout request, as the sandbox provider sends it."""

    model_config = ConfigDict(extra="forbid")

    seller_id: str
    amount: int = Field(gt=0)
    currency: str = Field(min_length=3, max_length=3)
    payout_id: str | None = Field(default=None, min_length=1, max_length=255)
    """paymux's id of the payout, echoed in settlement files."""


PAYOUT_FAIL_SELLER = "sandbox-payout-fails"
"""Payouts to this seller fail (``account_closed``), to test the reversal."""

REFUND_DECLINE_REASON = "sandbox-decline"
"""A refund with this reason is declined (``refund_declined``)."""


class CheckoutIn(BaseModel):
    """A registration request, as the sandbox provider sends it."""

    model_config = ConfigDict(extra="forbid")

    payment_id: str
    amount: int = Field(gt=0)
    currency: str = Field(min_length=3, max_length=3)
    country: str
    method: str
    buyer_id: str
    references: list[str]
    return_url: str
    webhook_url: str


@dataclass
class Checkout:
    """A registered payment at the simulated PSP."""

    token: str
    request: CheckoutIn
    status: str = "pending"
    failure_code: str | None = None
    card_last4: str | None = None
    submitted: bool = False
    refunded: int = 0
    updated_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class _Event:
    id: str
    token: str
    status: str
    failure_code: str | None
    created: int

    def body(self) -> bytes:
        return json.dumps(
            {
                "id": self.id,
                "type": f"payment.{self.status}",
                "created": self.created,
                "data": {
                    "token": self.token,
                    "status": self.status,
                    "failure_code": self.failure_code,
                },
            },
            sort_keys=True,
        ).encode()


@dataclass(frozen=True)
class _DisputeEvent:
    id: str
    dispute: Dispute
    created: int

    def body(self) -> bytes:
        return json.dumps(
            {
                "id": self.id,
                "type": f"dispute.{self.dispute.status}",
                "created": self.created,
                "data": {
                    "dispute_id": self.dispute.id,
                    "token": self.dispute.token,
                    "status": self.dispute.status,
                    "amount": self.dispute.amount,
                    "currency": self.dispute.currency,
                    "reason": self.dispute.reason,
                },
            },
            sort_keys=True,
        ).encode()


@dataclass
class Dispute:
    """A chargeback the simulated buyer's bank raised on a paid checkout."""

    id: str
    token: str
    amount: int
    currency: str
    reason: str
    status: str = "opened"


class DisputeIn(BaseModel):
    """``POST /_admin/disputes``: the buyer's bank disputes a paid checkout."""

    model_config = ConfigDict(extra="forbid")

    token: str
    amount: int | None = Field(default=None, gt=0, description="Default: the whole payment")
    reason: str = Field(default="fraudulent", max_length=64)


class DisputeOutcomeIn(BaseModel):
    """``POST /_admin/disputes/{id}/resolve``."""

    model_config = ConfigDict(extra="forbid")

    outcome: Literal["won", "lost"]


class SandboxPsp:
    """The simulator's state and behaviour; :meth:`asgi` serves it over HTTP."""

    def __init__(
        self,
        config: SandboxConfig,
        *,
        public_base: str,
        webhook_transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        self.clock: Callable[[], datetime] = clock or _utc_now
        """When a money movement happens, for its booking (settlement files only: statuses,
        webhooks and their signatures keep the real time). Tests may replace it."""
        self.bookings: list[Booking] = []
        """Every money movement processed, in the order it happened."""
        self.settlement_faults = SettlementFaults()
        """Scripted faults of the settlement files (see :mod:`paymux_sandbox.settlement_faults`)."""
        self.public_base = public_base.rstrip("/")
        self.checkouts: dict[str, Checkout] = {}
        self.registration_requests = 0
        """``POST /v1/checkouts`` received, faulted ones included."""
        self.status_requests = 0
        """``GET /v1/checkouts/{token}`` received, faulted ones included."""
        self.keys_by_payment: dict[str, Counter[str]] = {}
        """Per paymux payment id: the idempotency keys its registrations came with, and how
        often each (faulted requests included): proof that retries keep their key."""
        self.faults = FaultPlan()
        """Scripted API and webhook faults (see :mod:`paymux_sandbox.faults`)."""
        self.webhooks_delivered = 0
        self.webhooks_given_up = 0
        self._by_key: dict[str, tuple[str, str]] = {}
        self._key_locks: dict[str, asyncio.Lock] = {}
        self._stalled_keys: set[str] = set()
        self._refunds: dict[str, tuple[str, dict[str, Any]]] = {}
        self._payouts: dict[str, tuple[str, dict[str, Any]]] = {}
        self.disputes: dict[str, Dispute] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None
        self._webhook_transport = webhook_transport

    # -- registration and status ---------------------------------------------------------

    async def register(self, body: CheckoutIn, idempotency_key: str) -> dict[str, Any]:
        """Register a checkout once per idempotency key; a repeat returns the same token."""
        fingerprint = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
        lock = self._key_locks.setdefault(idempotency_key, asyncio.Lock())
        async with lock:
            known = self._by_key.get(idempotency_key)
            if known is not None:
                if known[0] != fingerprint:
                    raise HTTPException(400, {"code": "idempotency_error", "message": "key reused"})
                token = known[1]
            else:
                token = f"sbx_{secrets.token_hex(12)}"
                self.checkouts[token] = Checkout(token=token, request=body)
                self._by_key[idempotency_key] = (fingerprint, token)
        if body.buyer_id == TIMEOUT_BUYER_ID and idempotency_key not in self._stalled_keys:
            self._stalled_keys.add(idempotency_key)
            await asyncio.sleep(self.config.stall_seconds)
        return self._checkout_json(self.checkouts[token])

    def saw_registration_request(self, idempotency_key: str | None, body: bytes) -> None:
        """Count a ``POST /v1/checkouts`` (before any fault) by payment and key."""
        self.registration_requests += 1
        try:
            payment_id = str(json.loads(body)["payment_id"])
        except (ValueError, KeyError, TypeError):
            return  # not a registration (or the client left before sending it)
        self.keys_by_payment.setdefault(payment_id, Counter())[idempotency_key or ""] += 1

    def registrations_report(self, payment_id: str | None = None) -> list[dict[str, Any]]:
        """Per payment: the keys its registration requests used and the checkouts it got."""
        checkouts: dict[str, list[Checkout]] = {}
        for checkout in self.checkouts.values():
            checkouts.setdefault(checkout.request.payment_id, []).append(checkout)
        ids = sorted(set(self.keys_by_payment) | set(checkouts))
        if payment_id is not None:
            ids = [payment_id] if payment_id in ids else []
        return [
            {
                "payment_id": pid,
                "idempotency_keys": dict(self.keys_by_payment.get(pid, {})),
                "checkouts": [
                    {
                        "token": checkout.token,
                        "status": checkout.status,
                        "submitted": checkout.submitted,
                        "amount": checkout.request.amount,
                        "currency": checkout.request.currency,
                    }
                    for checkout in checkouts.get(pid, [])
                ],
            }
            for pid in ids
        ]

    def stats(self) -> dict[str, Any]:
        """Counters for tests and benchmarks (``GET /_admin/stats``)."""
        checkouts_per_payment = Counter(c.request.payment_id for c in self.checkouts.values())
        return {
            "registrations": len(self.checkouts),
            "registration_requests": self.registration_requests,
            "status_requests": self.status_requests,
            "refunds": len(self._refunds),
            "payouts": len(self._payouts),
            "bookings": len(self.bookings),
            "idempotency_keys": len(self._by_key),
            "payments_with_several_keys": sum(
                1 for keys in self.keys_by_payment.values() if len(keys) > 1
            ),
            "payments_with_several_checkouts": sum(
                1 for count in checkouts_per_payment.values() if count > 1
            ),
            "paid": sum(1 for c in self.checkouts.values() if c.status == "succeeded"),
            "faults_injected": dict(self.faults.injected),
            "webhook_faults": dict(self.faults.webhook_faults),
            "webhooks_delivered": self.webhooks_delivered,
            "webhooks_given_up": self.webhooks_given_up,
        }

    def _checkout_json(self, checkout: Checkout) -> dict[str, Any]:
        return {
            "token": checkout.token,
            "reference": _reference(checkout),
            "redirect_url": f"{self.public_base}/pay/{checkout.token}",
            "status": checkout.status,
            "failure_code": checkout.failure_code,
            "updated_at": int(checkout.updated_at),
        }

    def status(self, token: str) -> dict[str, Any]:
        """The checkout's status as the provider's status fetch sees it."""
        checkout = self._get(token)
        return self._checkout_json(checkout)

    def _get(self, token: str) -> Checkout:
        checkout = self.checkouts.get(token)
        if checkout is None:
            raise HTTPException(404, {"code": "not_found", "message": f"no checkout {token}"})
        return checkout

    async def refund(self, body: RefundIn, idempotency_key: str) -> dict[str, Any]:
        """Refund a succeeded checkout, at most what was paid, once per idempotency key."""
        fingerprint = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
        lock = self._key_locks.setdefault(f"refund:{idempotency_key}", asyncio.Lock())
        async with lock:
            known = self._refunds.get(idempotency_key)
            if known is not None:
                if known[0] != fingerprint:
                    raise HTTPException(400, {"code": "idempotency_error", "message": "key reused"})
                return known[1]
            checkout = self._get(body.token)
            if checkout.status != "succeeded" or body.currency != checkout.request.currency:
                raise HTTPException(400, {"code": "payment_not_refundable", "message": "not paid"})
            if body.amount > checkout.request.amount - checkout.refunded:
                raise HTTPException(
                    400, {"code": "refund_exceeds_payment", "message": "more than is left"}
                )
            if body.reason == REFUND_DECLINE_REASON:
                raise HTTPException(400, {"code": "refund_declined", "message": "declined"})
            checkout.refunded += body.amount
            answer = {"id": f"sbxre_{secrets.token_hex(10)}", "status": "succeeded"}
            self._refunds[idempotency_key] = (fingerprint, answer)
            self._book(
                "refund", checkout, -body.amount, modification=answer["id"], merchant=body.refund_id
            )
            return answer

    async def payout(self, body: PayoutIn, idempotency_key: str) -> dict[str, Any]:
        """Pay a seller, once per idempotency key; the failing test seller's payouts fail."""
        fingerprint = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
        lock = self._key_locks.setdefault(f"payout:{idempotency_key}", asyncio.Lock())
        async with lock:
            known = self._payouts.get(idempotency_key)
            if known is not None:
                if known[0] != fingerprint:
                    raise HTTPException(400, {"code": "idempotency_error", "message": "key reused"})
                return known[1]
            failed = body.seller_id == PAYOUT_FAIL_SELLER
            answer = {
                "id": f"sbxpo_{secrets.token_hex(10)}",
                "status": "failed" if failed else "paid",
                "failure_code": "account_closed" if failed else None,
            }
            self._payouts[idempotency_key] = (fingerprint, answer)
            if not failed:
                self._book_payout(body, str(answer["id"]))
            return answer

    # -- the hosted page -----------------------------------------------------------------

    def pay(self, token: str, card_number: str) -> Checkout:
        """The buyer submitted the hosted page: settle the outcome and send webhooks."""
        checkout = self._get(token)
        digits = normalize_card_number(card_number)
        scenario = scenario_for(digits)
        checkout.card_last4 = digits[-4:]
        checkout.submitted = True
        now = int(time.time())

        def event(status: str, failure_code: str | None = None, offset: int = 0) -> _Event:
            return _Event(f"evt_{secrets.token_hex(10)}", token, status, failure_code, now + offset)

        later: _Event | None = None  # sent after pending_delay_seconds, when it settles
        if scenario is Scenario.DECLINE:
            self._settle(checkout, "failed", "card_declined")
            events = [event("failed", "card_declined")]
        elif scenario is Scenario.INSUFFICIENT_FUNDS:
            self._settle(checkout, "failed", "insufficient_funds")
            events = [event("failed", "insufficient_funds")]
        elif scenario is Scenario.PENDING_THEN_SUCCESS:
            events = [event("pending")]
            later = event("succeeded", offset=1)
        elif scenario is Scenario.WEBHOOK_TWICE:
            self._settle(checkout, "succeeded", None)
            once = event("succeeded")
            events = [once, once]
        elif scenario is Scenario.WEBHOOKS_OUT_OF_ORDER:
            self._settle(checkout, "succeeded", None)
            events = [event("succeeded", offset=1), event("pending")]
        else:
            self._settle(checkout, "succeeded", None)
            events = [event("succeeded")]
        now_sent, later_sent = _with_webhook_fault(
            self.faults.take_webhooks(), events, later, earlier=event("pending", offset=-1)
        )
        if now_sent:
            self._deliver(checkout, now_sent)
        if later is not None:
            self._spawn(self._succeed_later(checkout, later_sent))
        log.info("sandbox checkout %s paid with card ending %s", token, checkout.card_last4)
        return checkout

    def _settle(self, checkout: Checkout, status: str, failure_code: str | None) -> None:
        if status == "succeeded" and checkout.status != "succeeded":
            self._book("capture", checkout, checkout.request.amount)
        checkout.status = status
        checkout.failure_code = failure_code
        checkout.updated_at = time.time()

    async def _succeed_later(self, checkout: Checkout, events: Sequence[_Event]) -> None:
        await asyncio.sleep(self.config.pending_delay_seconds)
        self._settle(checkout, "succeeded", None)
        await self._send_all(checkout.request.webhook_url, events)

    # -- disputes ------------------------------------------------------------------------

    def open_dispute(self, body: DisputeIn) -> Dispute:
        """The buyer's bank disputes (part of) a paid checkout: a ``dispute.opened`` webhook."""
        checkout = self._get(body.token)
        if checkout.status != "succeeded":
            raise HTTPException(400, {"code": "payment_not_disputable", "message": "not paid"})
        amount = checkout.request.amount if body.amount is None else body.amount
        if amount > checkout.request.amount:
            raise HTTPException(400, {"code": "dispute_exceeds_payment", "message": "too much"})
        dispute = Dispute(f"sbxdp_{secrets.token_hex(10)}", checkout.token, amount,
                          checkout.request.currency, body.reason)  # fmt: skip
        self.disputes[dispute.id] = dispute
        self._book("chargeback", checkout, -amount, modification=dispute.id)
        self._deliver(checkout, [self._dispute_event(dispute)])
        return dispute

    def resolve_dispute(self, dispute_id: str, outcome: str) -> Dispute:
        """Decide an open dispute (``won`` or ``lost``): a ``dispute.<outcome>`` webhook."""
        dispute = self.disputes.get(dispute_id)
        if dispute is None:
            raise HTTPException(404, {"code": "not_found", "message": f"no dispute {dispute_id}"})
        if dispute.status != "opened":
            raise HTTPException(400, {"code": "dispute_closed", "message": dispute.status})
        dispute.status = outcome
        checkout = self._get(dispute.token)
        if outcome == "won":
            self._book("chargeback_reversal", checkout, dispute.amount, modification=dispute.id)
        self._deliver(checkout, [self._dispute_event(dispute)])
        return dispute

    @staticmethod
    def _dispute_event(dispute: Dispute) -> _DisputeEvent:
        snapshot = Dispute(**vars(dispute))  # the webhook says what was true when it was sent
        return _DisputeEvent(f"evt_{secrets.token_hex(10)}", snapshot, int(time.time()))

    # -- bookings and settlement files ---------------------------------------------------

    def _book(
        self,
        kind: BookingType,
        checkout: Checkout,
        gross: int,
        *,
        modification: str | None = None,
        merchant: str | None = None,
    ) -> None:
        """Book a movement of ``checkout``'s money (``gross`` signed for the PSP's balance).

        The line's merchant reference is paymux's payment id, or for a refund ``merchant``
        (paymux's refund id, when paymux sent it). When the account settles in another
        currency (``settlement_currency``) and the simulator has a rate for it, the movement
        is converted at its rate less ``fx_spread``: the fee is charged on the converted
        amount, in the settlement currency."""
        currency = checkout.request.currency
        into = self.config.settlement_currency
        rate = None if into is None or into == currency else self._rate(currency, into)
        settled = None
        if rate is not None and into is not None:
            settled = settled_amount(gross, currency, into, rate, self.config.fx_spread)
        fee_base = gross if settled is None else settled
        self.bookings.append(
            Booking(
                line_id=new_line_id(),
                type=kind,
                payment_reference=_reference(checkout),
                currency=currency,
                gross_minor=gross,
                fee_minor=capture_fee(fee_base) if kind == "capture" and fee_base > 0 else 0,
                booked_at=self.now(),
                modification_reference=modification,
                merchant_reference=checkout.request.payment_id if kind != "refund" else merchant,
                token=checkout.token,
                payment_id=checkout.request.payment_id,
                settlement_currency=None if settled is None else into,
                settled_gross_minor=settled,
            )
        )

    def _rate(self, base: str, quote: str) -> Decimal | None:
        """The simulator's own ``base → quote`` rate (``fx_rates``), if it has one."""
        return sandbox_rate(self.config.fx_rates, base, quote)

    def _book_payout(self, body: PayoutIn, payout_reference: str) -> None:
        self.bookings.append(
            Booking(
                line_id=new_line_id(),
                type="payout",
                payment_reference=payout_reference,
                currency=body.currency,
                gross_minor=-body.amount,
                fee_minor=0,
                booked_at=self.now(),
                modification_reference=payout_reference,
                merchant_reference=body.payout_id,
            )
        )

    def now(self) -> datetime:
        """The booking clock's time, in UTC."""
        return self.clock().astimezone(UTC)

    def settlement_file(self, day: date) -> bytes:
        """The settlement file (CSV) of the UTC day ``day``, faults included; see
        :mod:`paymux_sandbox.settlement_writer` and ``docs/providers/sandbox.md``."""
        return settlement_file(self.bookings, day, self.settlement_faults)

    # -- webhooks ------------------------------------------------------------------------

    def signed_webhook(
        self,
        token: str,
        status: str,
        failure_code: str | None = None,
        *,
        timestamp: int | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """Headers and body of a webhook reporting ``status`` for ``token``, with a fresh
        event id, signed as the simulator signs them (at ``timestamp``, default now)."""
        now = int(time.time()) if timestamp is None else timestamp
        event = _Event(f"evt_{secrets.token_hex(10)}", token, status, failure_code, now)
        return self._signed(event, timestamp=now), event.body()

    def _signed(self, event: _Event | _DisputeEvent, *, timestamp: int) -> dict[str, str]:
        return {
            "content-type": "application/json",
            SIGNATURE_HEADER: sign(
                event.body(), secret=self.config.webhook_secret, timestamp=timestamp
            ),
        }

    def _deliver(self, checkout: Checkout, events: Sequence[_Event | _DisputeEvent]) -> None:
        self._spawn(self._send_all(checkout.request.webhook_url, events))

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_all(self, url: str, events: Sequence[_Event | _DisputeEvent]) -> None:
        for event in events:  # in the given order, each after the previous is accepted
            await self._send(url, event)

    async def _send(self, url: str, event: _Event | _DisputeEvent) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=10.0, transport=self._webhook_transport)
        body = event.body()
        for attempt in range(self.config.webhook_attempts):
            headers = self._signed(event, timestamp=int(time.time()))
            try:
                response = await self._client.post(url, content=body, headers=headers)
                if response.is_success:
                    self.webhooks_delivered += 1
                    return
                log.warning("webhook %s got %s from %s", event.id, response.status_code, url)
            except httpx.HTTPError as error:
                log.warning("webhook %s to %s failed: %s", event.id, url, error)
            await asyncio.sleep(min(0.2 * 2**attempt, 5.0))
        self.webhooks_given_up += 1
        log.error("webhook %s to %s given up after %s attempts", event.id, url, attempt + 1)

    async def idle(self) -> None:
        """Wait until every scheduled webhook was delivered (for tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        """Stop pending deliveries and close the HTTP client."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- scripted faults -----------------------------------------------------------------

    def fail_next(self, fault: Fault) -> None:
        """Make the next answer of the API (``/v1/...``) fail with ``fault``.

        ``timeout``: the request is handled, the answer comes after ``stall_seconds``;
        ``unavailable``: 503, nothing done; ``rate_limited``: 429 with ``Retry-After``
        (``config.retry_after_seconds``), nothing done; ``rejected``: 400 with code
        ``sandbox_rejected``, nothing done; ``reset``: the request is handled, then the
        connection is dropped (:class:`ConnectionDropped`). Faults queue up, one per request.
        ``self.faults`` aims faults at one operation, draws them at random and scripts
        webhook faults.
        """
        self.faults.queue_api(fault)

    def fail_next_webhooks(self, fault: WebhookFault) -> None:
        """Make the webhooks of the next hosted-page submission ``duplicate``d,
        ``reorder``ed or ``drop``ped."""
        self.faults.queue_webhooks(fault)

    def transport(self) -> httpx.AsyncBaseTransport:
        """An httpx transport to the simulator in this process (no network), where a
        scripted ``reset`` raises what httpx raises for a dropped connection."""
        return _InProcessTransport(self.asgi())

    # -- HTTP ----------------------------------------------------------------------------

    def asgi(self) -> FastAPI:
        """The simulator's HTTP interface."""
        app = FastAPI(title="paymux sandbox PSP", docs_url=None, redoc_url=None, openapi_url=None)
        app.state.psp = self  # tests and tools reach the simulator through the mounted app
        app.add_middleware(_FaultMiddleware, psp=self)
        app.include_router(admin_router(self))

        @app.post("/v1/checkouts", status_code=201)
        async def register(
            body: CheckoutIn, idempotency_key: Annotated[str, Header(min_length=1)]
        ) -> dict[str, Any]:
            return await self.register(body, idempotency_key)

        @app.post("/v1/refunds", status_code=201)
        async def refund(
            body: RefundIn, idempotency_key: Annotated[str, Header(min_length=1)]
        ) -> dict[str, Any]:
            return await self.refund(body, idempotency_key)

        @app.post("/v1/payouts", status_code=201)
        async def payout(
            body: PayoutIn, idempotency_key: Annotated[str, Header(min_length=1)]
        ) -> dict[str, Any]:
            return await self.payout(body, idempotency_key)

        @app.get("/v1/checkouts/{token}")
        async def status(token: str) -> dict[str, Any]:
            return self.status(token)

        @app.get("/pay/{token}", response_class=HTMLResponse)
        async def page(token: str) -> HTMLResponse:
            checkout = self.checkouts.get(token)
            if checkout is None:
                return HTMLResponse(_page("Unknown payment", "<p>No such payment.</p>"), 404)
            return HTMLResponse(_payment_form(checkout, error=None))

        @app.post("/pay/{token}", response_model=None)
        async def submit(
            token: str, card_number: Annotated[str, Form()]
        ) -> HTMLResponse | RedirectResponse:
            checkout = self.checkouts.get(token)
            if checkout is None:
                return HTMLResponse(_page("Unknown payment", "<p>No such payment.</p>"), 404)
            if checkout.submitted:
                return HTMLResponse(
                    _page("Already paid", "<p id='error'>This payment was already submitted.</p>"),
                    409,
                )
            try:
                self.pay(token, card_number)
            except InvalidCardError as error:
                return HTMLResponse(_payment_form(checkout, error=str(error)), 400)
            return RedirectResponse(checkout.request.return_url, status_code=303)

        @app.post("/_admin/disputes", status_code=201)
        async def open_dispute(body: DisputeIn) -> dict[str, Any]:
            return vars(self.open_dispute(body))

        @app.post("/_admin/disputes/{dispute_id}/resolve")
        async def resolve_dispute(dispute_id: str, body: DisputeOutcomeIn) -> dict[str, Any]:
            return vars(self.resolve_dispute(dispute_id, body.outcome))

        return app


class _FaultMiddleware:
    """Puts the simulator's scripted faults in front of its routes."""

    def __init__(self, app: ASGIApp, psp: SandboxPsp) -> None:
        self._app = app
        self._psp = psp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        path = _route_path(scope)
        operation = operation_of(scope["method"], path)
        if operation == "register":
            body, receive = await _buffered(receive)
            self._psp.saw_registration_request(_header(scope, b"idempotency-key"), body)
        elif operation == "status":
            self._psp.status_requests += 1
        fault = self._psp.faults.take_api(operation) if path.startswith("/v1/") else None
        if fault is None:
            await self._app(scope, receive, send)
        elif fault == "unavailable":
            await JSONResponse({"code": "unavailable"}, 503)(scope, receive, send)
        elif fault == "rate_limited":
            headers = {"Retry-After": str(self._psp.config.retry_after_seconds)}
            limited = JSONResponse({"code": "rate_limited"}, 429, headers=headers)
            await limited(scope, receive, send)
        elif fault == "rejected":
            detail = {"code": REJECTED_CODE, "message": "rejected (scripted fault)"}
            await JSONResponse({"detail": detail}, 400)(scope, receive, send)
        else:
            held: list[Message] = []

            async def hold(message: Message) -> None:
                held.append(message)

            await self._app(scope, receive, hold)  # the PSP acts; its answer is late or lost
            if fault == "reset":
                # the status line goes out, the body never comes: a broken connection
                await send(next(m for m in held if m["type"] == "http.response.start"))
                raise ConnectionDropped(f"{scope['method']} {scope['path']}: connection dropped")
            await asyncio.sleep(self._psp.config.stall_seconds)
            for message in held:
                await send(message)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _reference(checkout: Checkout) -> str:
    """The checkout's reference at the sandbox (``sbxref_…``), as registrations return it."""
    return f"sbxref_{checkout.token[4:16]}"


def _route_path(scope: Scope) -> str:
    """The request's path below the simulator's mount point."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """Read the whole request body; a ``receive`` that hands it to the app again."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return body, replay


def _with_webhook_fault(
    fault: WebhookFault | None,
    events: list[_Event],
    later: _Event | None,
    *,
    earlier: _Event,
) -> tuple[list[_Event], list[_Event]]:
    """The events to send now and when the delayed status settles, under ``fault``.

    ``duplicate``: each event twice (same id). ``reorder``: the latest status first, then
    the earlier ones (``earlier``, a stale ``pending``, when there is only one status).
    ``drop``: none at all.
    """
    delayed = [later] if later is not None else []
    if fault == "drop":
        return [], []
    if fault == "duplicate":
        return [e for e in events for _ in (1, 2)], [e for e in delayed for _ in (1, 2)]
    if fault == "reorder":
        if later is not None:  # the success first, then the pending it followed
            return [], [later, *events]
        newest_first = sorted(events, key=lambda e: e.created, reverse=True)
        if len({e.status for e in events}) == 1:
            newest_first.append(earlier)
        return newest_first, []
    return events, delayed


class _InProcessTransport(httpx.AsyncBaseTransport):
    def __init__(self, app: FastAPI) -> None:
        self._inner = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._inner.handle_async_request(request)
        except ConnectionDropped as error:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from error

    async def aclose(self) -> None:
        await self._inner.aclose()


def _page(title: str, content: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)} · paymux sandbox</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; max-width: 34rem; margin: 2rem auto; color: #1d2433; }}
.badge {{ background: #ffe9a8; padding: .1rem .5rem; border-radius: .3rem; font-size: .8rem; }}
label {{ display: block; margin-top: .8rem; font-weight: 600; }}
input {{ width: 100%; padding: .5rem; font-size: 1rem; box-sizing: border-box; }}
button {{ margin-top: 1rem; padding: .6rem 1.2rem; font-size: 1rem; background: #3451b2;
         color: white; border: 0; border-radius: .3rem; }}
#error {{ color: #b42318; }}
table {{ border-collapse: collapse; margin-top: 1.5rem; font-size: .85rem; }}
td {{ padding: .15rem .6rem .15rem 0; }}
</style></head>
<body><p><span class="badge">SANDBOX — no real money</span></p>
<h1>{escape(title)}</h1>{content}</body></html>"""


def _payment_form(checkout: Checkout, *, error: str | None) -> str:
    request = checkout.request
    amount = format_money(Money(request.amount, request.currency), "en_US")
    cards = "".join(
        f"<tr><td><code>{card.number}</code></td><td>{escape(card.description)}</td></tr>"
        for card in TEST_CARDS
    )
    problem = f"<p id='error'>{escape(error)}</p>" if error else ""
    content = f"""
<p>Pay <strong id="amount">{escape(amount)}</strong> for
{escape(", ".join(request.references))}.</p>{problem}
<form method="post" action="{escape(checkout.token)}" autocomplete="off">
<label for="card-number">Card number</label>
<input id="card-number" name="card_number" inputmode="numeric" required>
<label for="expiry">Expiry (MM/YY)</label><input id="expiry" name="expiry" value="12/34">
<label for="cvc">CVC</label><input id="cvc" name="cvc" value="123">
<button id="pay" type="submit">Pay {escape(amount)}</button>
</form>
<table><caption>Test cards</caption>{cards}</table>"""
    return _page("Checkout", content)
