"""A fake Stripe API for tests and sandboxes: Checkout Sessions, refunds, transfers, reports.

It records every request and validates it against Stripe's OpenAPI spec (when given one:
:mod:`paymux_stripe.spec_validation`), answers with spec-shaped objects (Stripe's own
example objects from ``fixtures3.json`` as templates, when given), keeps Stripe's
idempotency rules (same ``Idempotency-Key`` and body: the same answer; another body:
``idempotency_error``), serves a hosted page at ``/pay/{session}``, signs events exactly as
Stripe does, and fails on demand (:meth:`FakeStripe.fail_next`). Given a ``webhook_url``, it
delivers the events of a checkout paid or declined on its hosted page there, signed, from a
background thread, retrying non-2xx answers (:mod:`paymux_stripe.webhook_delivery`).
Report runs of ``balance_change_from_activity.itemized.3`` list what it processed
(:mod:`paymux_stripe.fake_reports`); their file is served at ``/v1/files/{id}/contents``.

:class:`FakeStripe` is the state and logic, independent of any server;
:class:`FakeStripeServer` serves it over HTTP on 127.0.0.1 in a thread (stdlib only).
Run one by hand with ``python -m paymux_stripe.fake_stripe --port 12111``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import html
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

import stripe

from paymux.core.domain.status import PaymentStatus
from paymux_stripe import fake_reports
from paymux_stripe.amounts import THREE_DECIMAL, TWO_DECIMAL_OVERRIDES
from paymux_stripe.spec_validation import FormError, StripeSpec, as_lists, parse_form
from paymux_stripe.webhook_delivery import WebhookSender

StripeFault = Literal[
    "timeout",
    "unavailable",
    "rejected",
    "reset",
    "rate_limited",
    "lock_timeout",
    "idempotency_error",
    "authentication",
]
"""A scripted failure: ``timeout`` (acts, then answers too late), ``unavailable`` (500),
``rejected`` (402 card decline), ``reset`` (acts, then drops the connection),
``rate_limited`` (429 with ``Retry-After``), ``lock_timeout`` (409), ``idempotency_error``
(400) and ``authentication`` (401)."""

API_VERSION = "2026-10-28.endive"
BALANCE_REPORT_TYPE = "balance_change_from_activity.itemized.3"
Action = Literal["respond", "stall", "reset"]
JsonObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Reply:
    """What the fake answers: status, headers, body, and how (``stall``: after a delay)."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    action: Action = "respond"


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the fake received, with what the spec validator found wrong with it."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: str
    form: JsonObject
    errors: tuple[str, ...]


@dataclass(slots=True)
class _Fault:
    kind: StripeFault
    decline_code: str
    retry_after: int = 1


@dataclass(slots=True)
class _Stored:
    fingerprint: str
    reply: Reply


class StripeApiError(Exception):
    """An error answer of the fake, in Stripe's ``{"error": {...}}`` shape."""

    def __init__(self, status: int, kind: str, message: str, **fields: str) -> None:
        super().__init__(message)
        self.status = status
        self.payload: JsonObject = {"type": kind, "message": message, **fields}
        self.headers: dict[str, str] = {}


def _json(status: int, payload: object, headers: Mapping[str, str] | None = None) -> Reply:
    return Reply(
        status,
        json.dumps(payload).encode(),
        {"Content-Type": "application/json", **(headers or {})},
    )


class FakeStripe:
    """Stripe's state and answers, in memory. Thread-safe."""

    def __init__(
        self,
        *,
        api_key: str = "sk_test_paymux_fake",
        webhook_secret: str = "whsec_paymux_fake",  # noqa: S107 - a fake's secret
        spec: StripeSpec | None = None,
        fixtures: Mapping[str, Any] | None = None,
        stall_seconds: float = 2.0,
        public_url: str = "http://127.0.0.1",
        webhook_url: str | None = None,
        delivery_attempts: int = 6,
        delivery_backoff_seconds: float = 0.2,
    ) -> None:
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.public_url = public_url
        self.stall_seconds = stall_seconds
        self._spec = spec
        self._templates: Mapping[str, Any] = (fixtures or {}).get("resources", {})
        self._lock = threading.RLock()
        self._faults: deque[_Fault] = deque()
        self._idempotency: dict[str, _Stored] = {}
        self._in_flight: set[str] = set()
        self.requests: list[RecordedRequest] = []
        self.sessions: dict[str, JsonObject] = {}
        self.intents: dict[str, JsonObject] = {}
        self.charges: dict[str, JsonObject] = {}
        self.refunds: dict[str, JsonObject] = {}
        self.transfers: dict[str, JsonObject] = {}
        self.events: list[JsonObject] = []
        self._intent_data: dict[str, JsonObject] = {}
        self.report_runs: dict[str, JsonObject] = {}
        self.files: dict[str, bytes] = {}
        self._pending_polls: dict[str, int] = {}
        self.report_polls_to_finish = 0
        """At which retrieval a new report run finishes (0: it is created finished; 1: it
        is created ``pending`` and the first poll finds it done)."""
        self.report_run_error: str | None = None
        """When set, report runs fail with this error instead of succeeding."""
        self.report_data_available_end: int | None = None
        """``data_available_end`` of the report type; ``None``: the end of today (UTC)."""
        self.webhooks: WebhookSender | None = (
            WebhookSender(
                webhook_url,
                attempts=delivery_attempts,
                backoff_seconds=delivery_backoff_seconds,
            )
            if webhook_url
            else None
        )

    # -- for tests and harnesses -----------------------------------------------------

    def fail_next(
        self, fault: StripeFault, *, decline_code: str = "generic_decline", retry_after: int = 1
    ) -> None:
        """Make the next API answer fail with ``fault`` (``retry_after``: the ``Retry-After``
        seconds of a ``rate_limited`` answer)."""
        with self._lock:
            self._faults.append(_Fault(fault, decline_code, retry_after))

    def validation_errors(self) -> list[str]:
        """Every spec violation of every request received so far."""
        with self._lock:
            return [f"{r.method} {r.path}: {error}" for r in self.requests for error in r.errors]

    def api_requests(
        self, method: str | None = None, path: str | None = None
    ) -> list[RecordedRequest]:
        """The recorded ``/v1`` requests, optionally only those with ``method`` and ``path``."""
        with self._lock:
            return [
                r
                for r in self.requests
                if r.path.startswith("/v1/")
                and (method is None or r.method == method)
                and (path is None or r.path == path)
            ]

    def complete(self, session_id: str, outcome: PaymentStatus) -> JsonObject:
        """Act as the buyer (and the bank) so the session reaches ``outcome``; returns the
        event Stripe sends for it (also appended to :attr:`events`).

        ``succeeded``: paid by card. ``failed``: the (asynchronous) payment failed after the
        session completed, the only way a Checkout Session fails for good. ``pending``:
        completed, payment processing. ``canceled``: completed, PaymentIntent canceled.
        ``expired``: the buyer never paid.
        """
        with self._lock:
            session = self.sessions[session_id]
            if session["status"] != "open":
                raise ValueError(f"session {session_id} is already {session['status']}")
            if outcome is PaymentStatus.EXPIRED:
                session["status"] = "expired"
                session["url"] = None
                return self._emit("checkout.session.expired", copy.deepcopy(session))
            intent = self._create_intent(session, outcome)
            session["payment_intent"] = intent["id"]
            session["status"] = "complete"
            session["payment_status"] = "paid" if intent["status"] == "succeeded" else "unpaid"
            session["url"] = None
            snapshot = copy.deepcopy(session)
            if outcome is PaymentStatus.FAILED:
                return self._emit("checkout.session.async_payment_failed", snapshot)
            return self._emit("checkout.session.completed", snapshot)

    def event(self, kind: str, obj: Mapping[str, Any]) -> JsonObject:
        """A Stripe event of ``kind`` about ``obj``, with a fresh id (not recorded)."""
        template = self._template("event")
        template.update(
            {
                "id": _new_id("evt"),
                "object": "event",
                "api_version": API_VERSION,
                "account": None,
                "created": int(time.time()),
                "data": {"object": copy.deepcopy(dict(obj))},
                "livemode": False,
                "pending_webhooks": 1,
                "request": {"id": None, "idempotency_key": None},
                "type": kind,
            }
        )
        template.pop("context", None)
        return template

    def sign(self, payload: str, *, timestamp: int | None = None) -> str:
        """The ``Stripe-Signature`` header Stripe sends with ``payload``."""
        return str(
            stripe.WebhookSignature.generate_signature_header(
                payload, self.webhook_secret, timestamp=timestamp
            )
        )

    def signed(
        self, event: Mapping[str, Any], *, timestamp: int | None = None
    ) -> tuple[dict[str, str], bytes]:
        """Headers (lower-case) and body of a webhook delivering ``event``."""
        payload = json.dumps(event)
        return (
            {
                "stripe-signature": self.sign(payload, timestamp=timestamp),
                "content-type": "application/json",
            },
            payload.encode(),
        )

    # -- the HTTP surface -----------------------------------------------------------------

    def handle(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> Reply:
        """Answer one HTTP request (``headers`` with lower-case names)."""
        text = body.decode("utf-8", errors="replace")
        if path.startswith("/pay/"):
            return self._hosted_page(method, path.removeprefix("/pay/"), text)
        if not path.startswith("/v1/"):
            return Reply(404, b"not found", {"Content-Type": "text/plain"})
        if method == "GET" and path.startswith("/v1/files/") and path.endswith("/contents"):
            return self._file_contents(path, query, headers)
        errors: list[str] = []
        try:
            form = parse_form(text)
        except FormError as error:
            form, errors = {}, [str(error)]
        if self._spec is not None:
            errors += self._spec.validate(method, path, query, text)
        with self._lock:
            self.requests.append(
                RecordedRequest(method, path, query, dict(headers), text, form, tuple(errors))
            )
        try:
            self._authenticate(headers)
            if errors:
                raise StripeApiError(
                    400, "invalid_request_error", "; ".join(errors), code="parameter_invalid"
                )
            return self._api(method, path, query, headers, text, form)
        except StripeApiError as error:
            headers = {"Request-Id": _new_id("req"), **error.headers}
            return _json(error.status, {"error": error.payload}, headers)

    def _authenticate(self, headers: Mapping[str, str]) -> None:
        basic = base64.b64encode(f"{self.api_key}:".encode()).decode()
        if headers.get("authorization") not in (f"Bearer {self.api_key}", f"Basic {basic}"):
            raise StripeApiError(401, "invalid_request_error", "Invalid API Key provided")

    def _api(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        text: str,
        form: JsonObject,
    ) -> Reply:
        with self._lock:
            fault = self._faults.popleft() if self._faults else None
        if fault is not None and fault.kind not in ("timeout", "reset"):
            raise _fault_error(fault)
        key = headers.get("idempotency-key") if method == "POST" else None
        if key is None:
            reply = self._route(method, path, query, form)
        else:
            reply = self._idempotent(
                key, f"{method} {path} {_canonical(text)}", method, path, query, form
            )
        if fault is not None:
            return Reply(
                reply.status,
                reply.body,
                reply.headers,
                "stall" if fault.kind == "timeout" else "reset",
            )
        return reply

    def _idempotent(
        self, key: str, request: str, method: str, path: str, query: str, form: JsonObject
    ) -> Reply:
        fingerprint = hashlib.sha256(request.encode()).hexdigest()
        with self._lock:
            stored = self._idempotency.get(key)
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    raise StripeApiError(
                        400,
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same parameters "
                        "they were first used with.",
                    )
                return Reply(
                    stored.reply.status,
                    stored.reply.body,
                    {**stored.reply.headers, "Idempotent-Replayed": "true"},
                )
            if key in self._in_flight:
                raise StripeApiError(
                    409,
                    "invalid_request_error",
                    "There is currently another in-progress request using this Idempotent Key.",
                    code="idempotency_key_in_use",
                )
            self._in_flight.add(key)
        try:
            reply = self._route(method, path, query, form)
            with self._lock:
                self._idempotency[key] = _Stored(fingerprint, reply)
            return reply
        finally:
            with self._lock:
                self._in_flight.discard(key)

    def _route(self, method: str, path: str, query: str, form: JsonObject) -> Reply:
        parts = path.strip("/").split("/")
        expand = as_lists(parse_form(query).get("expand", []))
        with self._lock:
            match method, parts:
                case "POST", ["v1", "checkout", "sessions"]:
                    return _json(200, self._create_session(as_lists(form)))
                case "GET", ["v1", "checkout", "sessions", session_id]:
                    return _json(200, self._session_view(session_id, expand))
                case "POST", ["v1", "checkout", "sessions", session_id, "expire"]:
                    session = self._get(self.sessions, session_id, "checkout.session")
                    if session["status"] == "open":
                        self.complete(session_id, PaymentStatus.EXPIRED)
                    return _json(200, self._session_view(session_id, expand))
                case "GET", ["v1", "payment_intents", intent_id]:
                    return _json(200, self._get(self.intents, intent_id, "payment_intent"))
                case "POST", ["v1", "refunds"]:
                    return _json(200, self._create_refund(as_lists(form)))
                case "POST", ["v1", "transfers"]:
                    return _json(200, self._create_transfer(as_lists(form)))
                case "GET", ["v1", "reporting", "report_types", report_type]:
                    return _json(200, self._report_type(report_type))
                case "POST", ["v1", "reporting", "report_runs"]:
                    return _json(200, self._create_report_run(as_lists(form)))
                case "GET", ["v1", "reporting", "report_runs", run_id]:
                    return _json(200, self._poll_report_run(run_id))
        raise StripeApiError(
            404, "invalid_request_error", f"Unrecognized request URL ({method}: {path})."
        )

    # -- resources --------------------------------------------------------------------------

    def _template(self, resource: str) -> JsonObject:
        template = self._templates.get(resource)
        return copy.deepcopy(dict(template)) if isinstance(template, Mapping) else {}

    def _get(self, store: Mapping[str, JsonObject], object_id: str, resource: str) -> JsonObject:
        found = store.get(object_id)
        if found is None:
            raise StripeApiError(
                404,
                "invalid_request_error",
                f"No such {resource}: '{object_id}'",
                code="resource_missing",
                param="id",
            )
        return copy.deepcopy(found)

    def _create_session(self, params: JsonObject) -> JsonObject:
        if params.get("mode") != "payment":
            raise StripeApiError(
                400, "invalid_request_error", "only mode=payment is faked", param="mode"
            )
        items = params.get("line_items") or []
        if not items:
            raise StripeApiError(
                400, "invalid_request_error", "line_items are required", param="line_items"
            )
        currencies = {item["price_data"]["currency"] for item in items if "price_data" in item}
        if len(currencies) != 1 or any("price_data" not in item for item in items):
            raise StripeApiError(400, "invalid_request_error", "one currency of price_data only")
        currency = currencies.pop()
        if currency != currency.lower():
            raise StripeApiError(
                400, "invalid_request_error", "currency must be lower-case", param="currency"
            )
        total = 0
        for item in items:
            total += int(item["price_data"]["unit_amount"]) * int(item.get("quantity", 1))
        _check_amount(total, currency)
        session_id = _new_id("cs_test")
        session = self._template("checkout.session")
        now = int(time.time())
        session.update(
            {
                "id": session_id,
                "object": "checkout.session",
                "amount_subtotal": total,
                "amount_total": total,
                "cancel_url": params.get("cancel_url"),
                "client_reference_id": params.get("client_reference_id"),
                "created": now,
                "currency": currency,
                "customer": None,
                "expires_at": int(params.get("expires_at") or now + 86400),
                "livemode": False,
                "metadata": params.get("metadata") or {},
                "mode": "payment",
                "payment_intent": None,
                "payment_method_types": params.get("payment_method_types") or ["card"],
                "payment_status": "unpaid",
                "status": "open",
                "success_url": params["success_url"],
                "url": f"{self.public_url}/pay/{session_id}",
            }
        )
        self.sessions[session_id] = session
        self._intent_data[session_id] = dict(params.get("payment_intent_data") or {})
        return copy.deepcopy(session)

    def _session_view(self, session_id: str, expand: object) -> JsonObject:
        session = self._get(self.sessions, session_id, "checkout.session")
        if isinstance(expand, list) and "payment_intent" in expand and session["payment_intent"]:
            session["payment_intent"] = copy.deepcopy(self.intents[session["payment_intent"]])
        return session

    def _create_intent(self, session: Mapping[str, Any], outcome: PaymentStatus) -> JsonObject:
        data = self._intent_data.get(str(session["id"]), {})
        statuses = {
            PaymentStatus.SUCCEEDED: "succeeded",
            PaymentStatus.FAILED: "requires_payment_method",
            PaymentStatus.PENDING: "processing",
            PaymentStatus.CANCELED: "canceled",
        }
        if outcome not in statuses:
            raise ValueError(f"a checkout cannot be completed as {outcome}")
        status = statuses[outcome]
        intent = self._template("payment_intent")
        intent_id = _new_id("pi")
        amount = int(session["amount_total"])
        intent.update(
            {
                "id": intent_id,
                "object": "payment_intent",
                "amount": amount,
                "amount_capturable": 0,
                "amount_received": amount if status == "succeeded" else 0,
                "canceled_at": int(time.time()) if status == "canceled" else None,
                "cancellation_reason": "abandoned" if status == "canceled" else None,
                "capture_method": "automatic",
                "client_secret": f"{intent_id}_secret_{secrets.token_hex(8)}",
                "confirmation_method": "automatic",
                "created": int(time.time()),
                "currency": session["currency"],
                "last_payment_error": None,
                "latest_charge": None,
                "livemode": False,
                "metadata": dict(data.get("metadata") or {}),
                "next_action": None,
                "payment_method_types": ["card"],
                "processing": None,
                "status": status,
                "transfer_data": None,
                "transfer_group": data.get("transfer_group"),
            }
        )
        if status == "requires_payment_method":
            intent["last_payment_error"] = {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "generic_decline",
                "message": "Your card was declined.",
            }
        if status == "succeeded":
            intent["latest_charge"] = self._create_charge(intent)["id"]
        self.intents[intent_id] = intent
        return intent

    def _create_charge(self, intent: Mapping[str, Any]) -> JsonObject:
        charge = self._template("charge")
        charge_id = _new_id("ch")
        charge.update(
            {
                "id": charge_id,
                "object": "charge",
                "amount": intent["amount"],
                "amount_captured": intent["amount"],
                "amount_refunded": 0,
                "captured": True,
                "created": int(time.time()),
                "currency": intent["currency"],
                "disputed": False,
                "livemode": False,
                "metadata": dict(intent["metadata"]),
                "paid": True,
                "payment_intent": intent["id"],
                "refunded": False,
                "refunds": {
                    "object": "list",
                    "data": [],
                    "has_more": False,
                    "url": f"/v1/charges/{charge_id}/refunds",
                },
                "status": "succeeded",
                "transfer_group": intent["transfer_group"],
            }
        )
        self.charges[charge_id] = charge
        return charge

    def _create_refund(self, params: JsonObject) -> JsonObject:
        intent_id = params.get("payment_intent")
        if not intent_id:
            raise StripeApiError(
                400,
                "invalid_request_error",
                "payment_intent is required here",
                param="payment_intent",
            )
        intent = self._get(self.intents, str(intent_id), "payment_intent")
        charge_id = intent.get("latest_charge")
        if intent["status"] != "succeeded" or not charge_id:
            raise StripeApiError(
                400,
                "invalid_request_error",
                f"PaymentIntent {intent_id} has no successful charge to refund",
                code="charge_not_refundable",
            )
        charge = self.charges[str(charge_id)]
        remaining = int(charge["amount"]) - int(charge["amount_refunded"])
        amount = int(params.get("amount", remaining))
        if amount <= 0 or amount > remaining:
            raise StripeApiError(
                400,
                "invalid_request_error",
                f"Refund amount ({amount}) is greater than the unrefunded {remaining}",
                code="amount_too_large",
                param="amount",
            )
        _check_amount(amount, str(charge["currency"]))
        refund = self._template("refund")
        refund.update(
            {
                "id": _new_id("re"),
                "object": "refund",
                "amount": amount,
                "balance_transaction": None,
                "charge": charge_id,
                "created": int(time.time()),
                "currency": charge["currency"],
                "metadata": params.get("metadata") or {},
                "payment_intent": intent_id,
                "reason": params.get("reason"),
                "status": "succeeded",
            }
        )
        self.refunds[refund["id"]] = refund
        charge["amount_refunded"] = int(charge["amount_refunded"]) + amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        charge["refunds"]["data"].insert(0, copy.deepcopy(refund))
        self._emit("charge.refunded", copy.deepcopy(charge))
        return copy.deepcopy(refund)

    def _create_transfer(self, params: JsonObject) -> JsonObject:
        destination = str(params["destination"])
        if not destination.startswith("acct_") or not destination[5:].isalnum():
            raise StripeApiError(
                400,
                "invalid_request_error",
                f"No such destination: '{destination}'",
                code="resource_missing",
                param="destination",
            )
        amount = int(params.get("amount", 0))
        if amount <= 0:
            raise StripeApiError(
                400, "invalid_request_error", "amount must be positive", param="amount"
            )
        currency = str(params["currency"])
        _check_amount(amount, currency)
        transfer = self._template("transfer")
        transfer_id = _new_id("tr")
        transfer.update(
            {
                "id": transfer_id,
                "object": "transfer",
                "amount": amount,
                "amount_reversed": 0,
                "balance_transaction": _new_id("txn"),
                "created": int(time.time()),
                "currency": currency,
                "description": params.get("description"),
                "destination": destination,
                "destination_payment": _new_id("py"),
                "livemode": False,
                "metadata": params.get("metadata") or {},
                "reversals": {
                    "object": "list",
                    "data": [],
                    "has_more": False,
                    "url": f"/v1/transfers/{transfer_id}/reversals",
                },
                "reversed": False,
                "source_transaction": params.get("source_transaction"),
                "transfer_group": params.get("transfer_group"),
            }
        )
        self.transfers[transfer_id] = transfer
        self._emit("transfer.created", copy.deepcopy(transfer))
        return copy.deepcopy(transfer)

    # -- reports ------------------------------------------------------------------------------

    def _report_type(self, report_type: str) -> JsonObject:
        if report_type != BALANCE_REPORT_TYPE:
            raise StripeApiError(
                404,
                "invalid_request_error",
                f"No such report type: '{report_type}' (the fake has {BALANCE_REPORT_TYPE})",
                code="resource_missing",
            )
        end = self.report_data_available_end
        if end is None:
            end = (int(time.time()) // 86400 + 1) * 86400
        template = self._template("reporting.report_type")
        template.update(
            {
                "id": report_type,
                "object": "reporting.report_type",
                "name": "Itemized balance change from activity",
                "data_available_start": 0,
                "data_available_end": end,
                "default_columns": sorted(fake_reports.BASE_COLUMNS),
                "livemode": False,
                "updated": int(time.time()),
                "version": 3,
            }
        )
        return template

    def _create_report_run(self, params: JsonObject) -> JsonObject:
        report_type = str(params.get("report_type"))
        self._report_type(report_type)
        parameters = dict(params.get("parameters") or {})
        columns = [str(c) for c in parameters.get("columns") or sorted(fake_reports.BASE_COLUMNS)]
        unknown = fake_reports.unknown_columns(columns)
        if unknown:
            raise StripeApiError(
                400,
                "invalid_request_error",
                f"Invalid columns for {report_type}: {', '.join(unknown)}",
                param="parameters[columns]",
            )
        if "interval_start" not in parameters or "interval_end" not in parameters:
            raise StripeApiError(
                400, "invalid_request_error", "interval_start and interval_end are required"
            )
        for name in ("interval_start", "interval_end"):
            parameters[name] = int(parameters[name])
        parameters["columns"] = columns
        run = self._template("reporting.report_run")
        run.update(
            {
                "id": _new_id("frr"),
                "object": "reporting.report_run",
                "created": int(time.time()),
                "error": None,
                "livemode": False,
                "parameters": parameters,
                "report_type": report_type,
                "result": None,
                "status": "pending",
                "succeeded_at": None,
            }
        )
        self.report_runs[run["id"]] = run
        self._pending_polls[run["id"]] = self.report_polls_to_finish
        if self.report_polls_to_finish == 0:
            self._finish_report_run(run)
        return copy.deepcopy(run)

    def _poll_report_run(self, run_id: str) -> JsonObject:
        run = self.report_runs.get(run_id)
        if run is None:
            return self._get(self.report_runs, run_id, "reporting.report_run")
        if run["status"] == "pending":
            left = self._pending_polls.get(run_id, 0) - 1
            self._pending_polls[run_id] = left
            if left <= 0:
                self._finish_report_run(run)
        return copy.deepcopy(run)

    def _finish_report_run(self, run: JsonObject) -> None:
        if self.report_run_error is not None:
            run.update({"status": "failed", "error": self.report_run_error})
            return
        parameters = run["parameters"]
        rows = fake_reports.balance_rows(self.charges, self.refunds, self.transfers)
        content = fake_reports.report_csv(
            rows, parameters["interval_start"], parameters["interval_end"], parameters["columns"]
        )
        file_id = _new_id("file")
        self.files[file_id] = content
        now = int(time.time())
        result = self._template("file")
        result.pop("links", None)
        result.update(
            {
                "id": file_id,
                "object": "file",
                "created": now,
                "expires_at": now + 7 * 86400,
                "filename": f"{run['id']}.csv",
                "purpose": "finance_report_run",
                "size": len(content),
                "title": None,
                "type": "csv",
                "url": f"{self.public_url}/v1/files/{file_id}/contents",
            }
        )
        run.update({"status": "succeeded", "result": result, "succeeded_at": now})

    def _file_contents(self, path: str, query: str, headers: Mapping[str, str]) -> Reply:
        """``GET /v1/files/{id}/contents`` (files.stripe.com; not an operation of the spec)."""
        with self._lock:
            self.requests.append(RecordedRequest("GET", path, query, dict(headers), "", {}, ()))
        try:
            self._authenticate(headers)
            with self._lock:
                fault = self._faults.popleft() if self._faults else None
                content = self.files.get(path.split("/")[3])
            if fault is not None and fault.kind not in ("timeout", "reset"):
                raise _fault_error(fault)
            if content is None:
                raise StripeApiError(
                    404, "invalid_request_error", "No such file", code="resource_missing"
                )
        except StripeApiError as error:
            return _json(error.status, {"error": error.payload}, error.headers)
        action: Action = (
            "respond" if fault is None else "stall" if fault.kind == "timeout" else "reset"
        )
        return Reply(200, content, {"Content-Type": "text/csv"}, action)

    def _emit(self, kind: str, obj: Mapping[str, Any]) -> JsonObject:
        event = self.event(kind, obj)
        self.events.append(event)
        return event

    # -- webhook delivery ---------------------------------------------------------------------

    def _deliver_checkout(self, final: JsonObject) -> None:
        """Send what Stripe sends once the buyer leaves the hosted page (with a webhook URL).

        Paid: ``checkout.session.completed`` (``paid``). Declined: the session completes
        unpaid (``checkout.session.completed``), then its payment fails
        (``checkout.session.async_payment_failed``), in that order.
        """
        if self.webhooks is None:
            return
        events = [final]
        if final["type"] == "checkout.session.async_payment_failed":
            completed = self.event("checkout.session.completed", final["data"]["object"])
            with self._lock:
                self.events.insert(len(self.events) - 1, completed)
            events = [completed, final]
        self.webhooks.send([self.signed(event) for event in events])

    def stop_deliveries(self) -> None:
        """Stop delivering webhooks (pending retries are dropped); waits for the sender."""
        if self.webhooks is not None:
            self.webhooks.stop()

    # -- the hosted page ----------------------------------------------------------------------

    def _hosted_page(self, method: str, session_id: str, body: str) -> Reply:
        with self._lock:
            session = self.sessions.get(session_id)
            if session is None:
                return Reply(404, b"No such checkout", {"Content-Type": "text/plain"})
            if method == "POST":
                choice = dict(parse_qsl(body)).get("outcome", "succeeded")
                if session["status"] != "open":
                    return Reply(409, b"This checkout is closed", {"Content-Type": "text/plain"})
                outcome = PaymentStatus.SUCCEEDED if choice == "succeeded" else PaymentStatus.FAILED
                final = self.complete(session_id, outcome)
                self._deliver_checkout(final)
                target = str(session["success_url"]).replace("{CHECKOUT_SESSION_ID}", session_id)
                return Reply(303, b"", {"Location": target})
            amount, currency = session["amount_total"], str(session["currency"]).upper()
        page = (
            "<!doctype html><html><head><title>Fake Stripe Checkout</title></head><body>"
            f"<h1>Pay {html.escape(str(amount))} ({html.escape(currency)}, Stripe units)</h1>"
            f'<form method="post"><button id="pay" name="outcome" value="succeeded">Pay</button>'
            f'<button id="decline" name="outcome" value="failed">Decline</button></form>'
            "</body></html>"
        )
        return Reply(200, page.encode(), {"Content-Type": "text/html; charset=utf-8"})


def _check_amount(amount: int, currency: str) -> None:
    """Stripe's own refusals of amounts it cannot settle."""
    code = currency.upper()
    if code in THREE_DECIMAL and amount % 10:
        raise StripeApiError(
            400,
            "invalid_request_error",
            f"Amounts in {code} must end in 0 (got {amount})",
            code="invalid_amount",
            param="amount",
        )
    if code in TWO_DECIMAL_OVERRIDES and amount % 100:
        raise StripeApiError(
            400,
            "invalid_request_error",
            f"{code} amounts must be whole units, sent as hundredths ending in 00 (got {amount})",
            code="invalid_amount",
            param="amount",
        )


def _fault_error(fault: _Fault) -> StripeApiError:
    match fault.kind:
        case "unavailable":
            return StripeApiError(500, "api_error", "An unknown error occurred (fake)")
        case "rejected":
            return StripeApiError(
                402,
                "card_error",
                "Your card was declined.",
                code="card_declined",
                decline_code=fault.decline_code,
            )
        case "rate_limited":
            error = StripeApiError(
                429, "invalid_request_error", "Too many requests (fake)", code="rate_limit"
            )
            error.headers["Retry-After"] = str(fault.retry_after)
            return error
        case "lock_timeout":
            return StripeApiError(
                409,
                "invalid_request_error",
                "This object cannot be accessed right now because another API request or "
                "Stripe process is currently accessing it.",
                code="lock_timeout",
            )
        case "idempotency_error":
            return StripeApiError(400, "idempotency_error", "Keys for idempotent requests ...")
        case _:
            return StripeApiError(401, "invalid_request_error", "Invalid API Key provided")


def _canonical(text: str) -> str:
    return "&".join(sorted(f"{k}={v}" for k, v in parse_qsl(text, keep_blank_values=True)))


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the fake records requests itself."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = self.server.fake.handle(self.command, url.path, url.query, headers, body)
        if reply.action == "reset":
            self.close_connection = True
            self.connection.close()
            return
        if reply.action == "stall":
            time.sleep(self.server.fake.stall_seconds)
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except OSError:
            self.close_connection = True  # the client gave up (a stalled answer)

    do_GET = _serve  # noqa: N815 - stdlib's dispatch names
    do_POST = _serve  # noqa: N815
    do_DELETE = _serve  # noqa: N815


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], fake: FakeStripe) -> None:
        super().__init__(address, _Handler)
        self.fake = fake


class FakeStripeServer:
    """Serves a :class:`FakeStripe` on 127.0.0.1 from a background thread."""

    def __init__(self, fake: FakeStripe, *, port: int = 0) -> None:
        self.fake = fake
        self._server = _Server(("127.0.0.1", port), fake)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        fake.public_url = self.url
        self._stopped = False

    @property
    def url(self) -> str:
        """The base URL, ``http://127.0.0.1:<port>``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeStripeServer:
        """Start serving; returns ``self``."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop delivering webhooks and serving, and close the socket. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self.fake.stop_deliveries()
        if not self._thread.is_alive():
            self._server.server_close()
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def load_fixtures(path: Path) -> JsonObject:
    """Stripe's ``fixtures3.json`` (example objects), read at run time."""
    data: JsonObject = json.loads(path.read_text("utf-8"))
    return data


def main() -> None:  # pragma: no cover - a manual entry point
    """``python -m paymux_stripe.fake_stripe [--port N] [--specs DIR]``."""
    import argparse

    from paymux_stripe.spec_validation import load_spec

    parser = argparse.ArgumentParser(description="Serve a fake Stripe API on 127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--specs", type=Path, help="folder with spec3.yaml and fixtures3.json")
    parser.add_argument("--api-key", default="sk_test_paymux_fake")
    parser.add_argument("--webhook-secret", default="whsec_paymux_fake")
    arguments = parser.parse_args()
    spec = load_spec(arguments.specs / "spec3.yaml") if arguments.specs else None
    fixtures = load_fixtures(arguments.specs / "fixtures3.json") if arguments.specs else None
    fake = FakeStripe(
        api_key=arguments.api_key,
        webhook_secret=arguments.webhook_secret,
        spec=spec,
        fixtures=fixtures,
    )
    server = FakeStripeServer(fake, port=arguments.port).start()
    print(f"fake Stripe at {server.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":  # pragma: no cover
    main()
