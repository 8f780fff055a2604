"""A fake Square API: payment links, orders, payments and refunds, held in memory.

It also lists payouts and payout entries of what it processed
(:mod:`paymux_square.fake_payouts`), :attr:`FakeSquare.page_size` objects a page.

It answers what the plugin calls, the way Square does (shapes from Square's OpenAPI
document), and lets tests and sandbox users act where only Square or the buyer can: pay or
decline on the hosted page, settle refunds, open disputes, and script faults. Every request
is recorded and, when a validator is given, checked against Square's OpenAPI document; a
request that does not validate is answered ``400`` and kept in :attr:`FakeSquare.invalid`.

``idempotency_key`` is honoured as Square does: the same key with the same body replays the
first answer; the same key with another body is ``400 IDEMPOTENCY_KEY_REUSED``.

This module holds no server: :mod:`paymux_square.fake_psp` serves it over HTTP.
"""

from __future__ import annotations

import json
import secrets
import string
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from typing import Any, Literal
from urllib.parse import parse_qs

from paymux_square.fake_payouts import FakePayouts, build_payouts
from paymux_square.spec_validation import SpecRequest

FaultKind = Literal["decline", "conflict", "rate_limited", "server_error", "timeout", "reset"]
"""A scripted failure: a decline (400), ``409``, ``429`` with ``Retry-After``, a ``5xx``,
an answer that comes too late (the request was acted on), or the connection reset after
the request was acted on."""

Action = Literal["answer", "stall", "reset"]

JSON = dict[str, Any]

_ALPHABET = string.ascii_letters + string.digits


def square_id(length: int = 24) -> str:
    """A random id shaped like Square's (letters and digits)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def now_rfc3339() -> str:
    """The current time as Square writes it (``2026-01-02T03:04:05.678Z``)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def square_error(category: str, code: str, detail: str) -> JSON:
    """Square's error body."""
    return {"errors": [{"category": category, "code": code, "detail": detail}]}


@dataclass(frozen=True, slots=True)
class Answer:
    """What the HTTP layer sends: ``action`` says whether to answer, stall first, or reset."""

    status: int
    body: JSON | str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    action: Action = "answer"


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A request the fake received, and what the spec validator said of it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    errors: tuple[str, ...]

    def json(self) -> Any:
        """The body, parsed."""
        return json.loads(self.body) if self.body else None


@dataclass(frozen=True, slots=True)
class ScriptedFault:
    """A fault waiting for the next request (to a path starting with ``path_prefix``)."""

    kind: FaultKind
    path_prefix: str
    retry_after_seconds: int


class FakeSquare:
    """Square's state and behaviour; thread-safe (the HTTP server calls it from threads)."""

    def __init__(
        self,
        *,
        public_url: str = "http://127.0.0.1",
        validator: Callable[[SpecRequest], list[str]] | None = None,
        refund_status: str = "PENDING",
    ) -> None:
        self.public_url = public_url.rstrip("/")
        self.validator = validator
        self.refund_status = refund_status
        """The status new refunds get (Square answers ``PENDING`` and settles later)."""
        self.requests: list[RecordedRequest] = []
        self.invalid: list[RecordedRequest] = []
        self.links: dict[str, JSON] = {}
        self.orders: dict[str, JSON] = {}
        self.payments: dict[str, JSON] = {}
        self.refunds: dict[str, JSON] = {}
        self.disputes: dict[str, JSON] = {}
        self.events: list[JSON] = []
        self.page_size = 100
        """How many payouts or payout entries one page holds at most (Square's ``limit``
        caps it further; Square's default and maximum is 100)."""
        """Every webhook event Square would have sent, oldest first."""
        self.on_event: Callable[[JSON], None] | None = None
        self._idempotency: dict[tuple[str, str], tuple[str, Answer]] = {}
        self._faults: deque[ScriptedFault] = deque()
        self._lock = threading.RLock()

    # -- scripting ----------------------------------------------------------------------

    def fail_next(
        self, kind: FaultKind, *, path_prefix: str = "/v2/", retry_after_seconds: int = 0
    ) -> None:
        """Make the next API request (to ``path_prefix``...) fail with ``kind``."""
        with self._lock:
            self._faults.append(ScriptedFault(kind, path_prefix, retry_after_seconds))

    def pay(self, order_id: str, *, decline_code: str | None = None) -> JSON:
        """Act as the buyer: pay the order's link (or be declined with ``decline_code``).

        A paid link emits ``payment.created`` (``APPROVED``) then ``payment.updated``
        (``COMPLETED``); a declined one emits ``payment.created`` (``FAILED``)."""
        with self._lock:
            order = self.orders[order_id]
            total = order["total_money"]
            failed = decline_code is not None
            stamp = now_rfc3339()
            payment_id = square_id(29)
            card_details: JSON = {
                "status": "FAILED" if failed else "CAPTURED",
                "card": {"card_brand": "VISA", "last_4": "1111", "exp_month": 12, "exp_year": 2034},
                "entry_method": "KEYED",
            }
            if failed:
                card_details["errors"] = [
                    {"category": "PAYMENT_METHOD_ERROR", "code": decline_code, "detail": "declined"}
                ]
            link = self.links[self._link_of(order_id)]
            payment: JSON = {
                "id": payment_id,
                "created_at": stamp,
                "updated_at": stamp,
                "amount_money": dict(total),
                "total_money": dict(total),
                "status": "FAILED" if failed else "COMPLETED",
                "source_type": "CARD",
                "card_details": card_details,
                "location_id": order["location_id"],
                "order_id": order_id,
                "refund_ids": [],
                "version_token": square_id(40),
            }
            if link.get("payment_note"):
                payment["note"] = link["payment_note"]
            self.payments[payment_id] = payment
            order.setdefault("tenders", []).append(
                {
                    "id": payment_id,
                    "location_id": order["location_id"],
                    "transaction_id": order_id,
                    "created_at": stamp,
                    "amount_money": dict(total),
                    "type": "CARD",
                    "card_details": {"status": card_details["status"], "entry_method": "KEYED"},
                    "payment_id": payment_id,
                }
            )
            if not failed:
                order["state"] = "COMPLETED"
                order["closed_at"] = stamp
                order["net_amount_due_money"] = {"amount": 0, "currency": total["currency"]}
            self._touch(order)
            if failed:
                self._emit("payment.created", "payment", payment_id, {"payment": dict(payment)})
                return payment
            # As Square reports a paid link: created APPROVED (authorized), then updated
            # COMPLETED (captured), the two events of the spec's examples for one payment.
            approved = dict(payment, status="APPROVED")
            approved["card_details"] = dict(card_details, status="AUTHORIZED")
            self._emit("payment.created", "payment", payment_id, {"payment": approved})
            self._emit("payment.updated", "payment", payment_id, {"payment": dict(payment)})
            return payment

    def set_payment_status(self, payment_id: str, status: str) -> JSON:
        """Move a payment to ``status`` (any string: tests use it for unknown values too)."""
        with self._lock:
            payment = self.payments[payment_id]
            payment["status"] = status
            payment["updated_at"] = now_rfc3339()
            self._emit("payment.updated", "payment", payment_id, {"payment": dict(payment)})
            return payment

    def set_order_state(self, order_id: str, state: str) -> JSON:
        """Move an order to ``state``."""
        with self._lock:
            order = self.orders[order_id]
            order["state"] = state
            self._touch(order)
            return order

    def settle_refund(self, refund_id: str, status: str) -> JSON:
        """Move a refund to ``status`` (``COMPLETED``, ``REJECTED``, ``FAILED``)."""
        with self._lock:
            refund = self.refunds[refund_id]
            refund["status"] = status
            refund["updated_at"] = now_rfc3339()
            refund["version"] = int(refund.get("version", 1)) + 1
            self._emit("refund.updated", "refund", refund_id, {"refund": dict(refund)})
            return refund

    def dispute(self, payment_id: str, state: str, *, dispute_id: str | None = None) -> JSON:
        """Open a dispute on a payment (or move an open one to ``state``)."""
        with self._lock:
            payment = self.payments[payment_id]
            stamp = now_rfc3339()
            known = self.disputes.get(dispute_id or "")
            if known is None:
                known = {
                    "id": dispute_id or square_id(20),
                    "amount_money": dict(payment["total_money"]),
                    "reason": "NOT_AS_DESCRIBED",
                    "state": state,
                    "due_at": stamp,
                    "disputed_payment": {"payment_id": payment_id},
                    "card_brand": "VISA",
                    "created_at": stamp,
                    "updated_at": stamp,
                    "location_id": payment["location_id"],
                    "version": 1,
                }
                self.disputes[known["id"]] = known
                kind = "dispute.created"
            else:
                known["state"] = state
                known["updated_at"] = stamp
                known["version"] = int(known["version"]) + 1
                kind = "dispute.state.updated"
            self._emit(kind, "dispute", known["id"], {"dispute": dict(known)})
            return known

    def event_envelope(self, kind: str, data_type: str, object_id: str, obj: JSON) -> JSON:
        """A webhook event as Square sends it, with a fresh ``event_id``."""
        inner: JSON = next(iter(obj.values()), {})
        location = str(inner.get("location_id", ""))
        return {
            "merchant_id": "FAKEMERCHANT1",
            "location_id": location,
            "type": kind,
            "event_id": str(uuid.uuid4()),
            "created_at": now_rfc3339(),
            "data": {"type": data_type, "id": object_id, "object": obj},
        }

    def order_of_link(self, link_id: str) -> str:
        """The order id of a payment link."""
        with self._lock:
            return str(self.links[link_id]["order_id"])

    # -- the HTTP interface -------------------------------------------------------------

    def handle(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Answer:
        """Answer one HTTP request (``headers`` with lower-case names)."""
        if path.startswith("/checkout/"):
            return self._hosted_page(method, path[len("/checkout/") :], body)
        with self._lock:
            errors = tuple(
                self.validator(SpecRequest(method, path, query, headers, body))
                if self.validator
                else ()
            )
            recorded = RecordedRequest(method, path, query, headers, body, errors)
            self.requests.append(recorded)
            if errors:
                self.invalid.append(recorded)
                return Answer(
                    400, square_error("INVALID_REQUEST_ERROR", "BAD_REQUEST", "; ".join(errors))
                )
            if not headers.get("authorization", "").startswith("Bearer "):
                return Answer(
                    401, square_error("AUTHENTICATION_ERROR", "UNAUTHORIZED", "no access token")
                )
            fault = self._take_fault(path)
            if fault is not None and fault.kind not in ("timeout", "reset"):
                return _fault_answer(fault, path)
            answer = self._route(method, path, query, body)
        if fault is not None:  # acted on, but the answer is lost or late
            return Answer(answer.status, answer.body, answer.headers, action=_ACTIONS[fault.kind])
        return answer

    # -- internals -----------------------------------------------------------------------

    def _take_fault(self, path: str) -> ScriptedFault | None:
        for fault in self._faults:
            if path.startswith(fault.path_prefix):
                self._faults.remove(fault)
                return fault
        return None

    def _route(self, method: str, path: str, query: dict[str, str], body: bytes) -> Answer:
        parts = path.strip("/").split("/")
        try:
            payload = json.loads(body) if body else {}
        except ValueError:
            return Answer(400, square_error("INVALID_REQUEST_ERROR", "EXPECTED_JSON_BODY", "bad"))
        match method, parts:
            case "POST", ["v2", "online-checkout", "payment-links"]:
                return self._idempotent(path, payload, self._create_link)
            case "GET", ["v2", "online-checkout", "payment-links", link_id]:
                return self._get("payment_link", self.links, link_id)
            case "GET", ["v2", "orders", order_id]:
                return self._get("order", self.orders, order_id)
            case "GET", ["v2", "payments", payment_id]:
                return self._get("payment", self.payments, payment_id)
            case "POST", ["v2", "refunds"]:
                return self._idempotent(path, payload, self._refund)
            case "GET", ["v2", "refunds", refund_id]:
                return self._get("refund", self.refunds, refund_id)
            case "GET", ["v2", "payouts"]:
                return self._list_payouts(query)
            case "GET", ["v2", "payouts", payout_id, "payout-entries"]:
                return self._list_payout_entries(payout_id, query)
        return Answer(404, square_error("INVALID_REQUEST_ERROR", "NOT_FOUND", f"no {path}"))

    def _get(self, name: str, table: dict[str, JSON], key: str) -> Answer:
        if key not in table:
            return Answer(404, square_error("INVALID_REQUEST_ERROR", "NOT_FOUND", f"no {name}"))
        return Answer(200, {name: json.loads(json.dumps(table[key]))})

    def _list_payouts(self, query: dict[str, str]) -> Answer:
        try:
            begin, end = (_moment(query.get(name)) for name in ("begin_time", "end_time"))
        except ValueError:
            return Answer(400, square_error("INVALID_REQUEST_ERROR", "INVALID_TIME", "time"))
        payouts = self._payouts().listed(query.get("location_id"), begin, end)
        return self._page("payouts", payouts, query)

    def _list_payout_entries(self, payout_id: str, query: dict[str, str]) -> Answer:
        payouts = self._payouts()
        if not any(payout["id"] == payout_id for payout in payouts.payouts):
            return Answer(404, square_error("INVALID_REQUEST_ERROR", "NOT_FOUND", "no payout"))
        return self._page("payout_entries", payouts.entries_of(payout_id), query)

    def _payouts(self) -> FakePayouts:
        return build_payouts(self.payments.values(), self.refunds.values())

    def _page(self, name: str, items: list[JSON], query: dict[str, str]) -> Answer:
        """One page of ``items``; the cursor is the offset of the next page."""
        cursor = query.get("cursor") or "0"
        if not cursor.isdigit() or int(cursor) > len(items):
            return Answer(400, square_error("INVALID_REQUEST_ERROR", "INVALID_CURSOR", cursor))
        limit = int(query.get("limit") or 100)
        size = min(self.page_size, limit if 0 < limit <= 100 else 100)
        start = int(cursor)
        body: JSON = {name: json.loads(json.dumps(items[start : start + size]))}
        if start + size < len(items):
            body["cursor"] = str(start + size)
        return Answer(200, body)

    def _idempotent(self, path: str, payload: JSON, act: Callable[[JSON], Answer]) -> Answer:
        key = payload.get("idempotency_key")
        if not key:
            return act(payload)
        fingerprint = json.dumps(payload, sort_keys=True)
        known = self._idempotency.get((path, key))
        if known is not None:
            if known[0] != fingerprint:
                return Answer(
                    400,
                    square_error(
                        "INVALID_REQUEST_ERROR",
                        "IDEMPOTENCY_KEY_REUSED",
                        "the idempotency key was used with another request",
                    ),
                )
            return known[1]
        answer = act(payload)
        if answer.status < 500:
            self._idempotency[(path, key)] = (fingerprint, answer)
        return answer

    def _create_link(self, payload: JSON) -> Answer:
        stamp = now_rfc3339()
        if "order" in payload:
            source = payload["order"]
            items = [dict(item) for item in source.get("line_items") or []]
            location = source["location_id"]
        elif "quick_pay" in payload:
            quick = payload["quick_pay"]
            items = [
                {"name": quick["name"], "quantity": "1", "base_price_money": quick["price_money"]}
            ]
            location, source = quick["location_id"], {}
        else:
            return Answer(
                400, square_error("INVALID_REQUEST_ERROR", "MISSING_REQUIRED_PARAMETER", "order")
            )
        if not items:
            return Answer(400, square_error("INVALID_REQUEST_ERROR", "ARRAY_EMPTY", "line_items"))
        currency = items[0]["base_price_money"]["currency"]
        total = 0
        for item in items:
            price = item["base_price_money"]
            if price["currency"] != currency:
                return Answer(
                    400, square_error("INVALID_REQUEST_ERROR", "CURRENCY_MISMATCH", "currencies")
                )
            line_total = int(price["amount"]) * int(item["quantity"])
            item.update(uid=square_id(22), total_money={"amount": line_total, "currency": currency})
            total += line_total
        order_id, link_id = square_id(29), square_id(16)
        order: JSON = {
            "id": order_id,
            "location_id": location,
            "source": {"name": "Square Online Checkout"},
            "line_items": items,
            "state": "OPEN",
            "version": 1,
            "created_at": stamp,
            "updated_at": stamp,
            "total_money": {"amount": total, "currency": currency},
            "net_amount_due_money": {"amount": total, "currency": currency},
        }
        if source.get("reference_id"):
            order["reference_id"] = source["reference_id"]
        link: JSON = {
            "id": link_id,
            "version": 1,
            "order_id": order_id,
            "url": f"{self.public_url}/checkout/{link_id}",
            "long_url": f"{self.public_url}/checkout/{link_id}?long=1",
            "created_at": stamp,
        }
        for name in ("checkout_options", "payment_note", "description"):
            if payload.get(name):
                link[name] = payload[name]
        self.orders[order_id] = order
        self.links[link_id] = link
        return Answer(200, {"payment_link": link, "related_resources": {"orders": [order]}})

    def _refund(self, payload: JSON) -> Answer:
        payment = self.payments.get(str(payload.get("payment_id")))
        if payment is None:
            return Answer(404, square_error("INVALID_REQUEST_ERROR", "NOT_FOUND", "no payment"))
        if payment["status"] != "COMPLETED":
            return Answer(
                400, square_error("REFUND_ERROR", "PAYMENT_NOT_REFUNDABLE", payment["status"])
            )
        money = payload["amount_money"]
        paid = payment["total_money"]
        if money["currency"] != paid["currency"]:
            return Answer(400, square_error("INVALID_REQUEST_ERROR", "CURRENCY_MISMATCH", "cur"))
        refunded = payment.get("refunded_money", {"amount": 0})["amount"]
        if not 0 < int(money["amount"]) <= int(paid["amount"]) - int(refunded):
            return Answer(400, square_error("REFUND_ERROR", "REFUND_AMOUNT_INVALID", "amount"))
        stamp = now_rfc3339()
        refund: JSON = {
            "id": f"{payment['id']}_{square_id(40)}",
            "status": self.refund_status,
            "location_id": payment["location_id"],
            "amount_money": dict(money),
            "payment_id": payment["id"],
            "order_id": payment["order_id"],
            "created_at": stamp,
            "updated_at": stamp,
            "version": 1,
        }
        if payload.get("reason"):
            refund["reason"] = payload["reason"]
        self.refunds[refund["id"]] = refund
        payment["refunded_money"] = {
            "amount": int(refunded) + int(money["amount"]),
            "currency": paid["currency"],
        }
        payment["refund_ids"].append(refund["id"])
        self._emit("refund.created", "refund", refund["id"], {"refund": dict(refund)})
        return Answer(200, {"refund": dict(refund)})

    def _hosted_page(self, method: str, link_id: str, body: bytes) -> Answer:
        with self._lock:
            link = self.links.get(link_id)
            if link is None:
                return Answer(404, "<!doctype html><title>Not found</title><p>No such link.</p>")
            order = self.orders[link["order_id"]]
            if method == "POST":
                form = parse_qs(body.decode())
                decline = form.get("outcome", ["pay"])[0] == "decline"
                if order["state"] != "COMPLETED":
                    self.pay(order["id"], decline_code="GENERIC_DECLINE" if decline else None)
                redirect = link.get("checkout_options", {}).get("redirect_url")
                if redirect:
                    return Answer(303, "", {"location": redirect})
            total = order["total_money"]
            return Answer(200, _page(link_id, order["state"], total["amount"], total["currency"]))

    def _link_of(self, order_id: str) -> str:
        for link_id, link in self.links.items():
            if link["order_id"] == order_id:
                return link_id
        raise KeyError(order_id)

    def _touch(self, order: JSON) -> None:
        order["version"] = int(order["version"]) + 1
        order["updated_at"] = now_rfc3339()

    def _emit(self, kind: str, data_type: str, object_id: str, obj: JSON) -> None:
        event = self.event_envelope(kind, data_type, object_id, json.loads(json.dumps(obj)))
        self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)


def _moment(value: str | None) -> datetime | None:
    """An RFC 3339 query parameter (``None`` when absent); ``ValueError`` if malformed."""
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


_ACTIONS: dict[FaultKind, Action] = {"timeout": "stall", "reset": "reset"}


def _fault_answer(fault: ScriptedFault, path: str) -> Answer:
    if fault.kind == "decline":
        if path.startswith("/v2/refunds"):
            return Answer(400, square_error("REFUND_ERROR", "REFUND_DECLINED", "declined"))
        return Answer(400, square_error("PAYMENT_METHOD_ERROR", "GENERIC_DECLINE", "declined"))
    if fault.kind == "conflict":
        return Answer(409, square_error("INVALID_REQUEST_ERROR", "CONFLICT", "in progress"))
    if fault.kind == "rate_limited":
        return Answer(
            429,
            square_error("RATE_LIMIT_ERROR", "RATE_LIMITED", "slow down"),
            {"retry-after": str(fault.retry_after_seconds)},
        )
    return Answer(503, square_error("API_ERROR", "SERVICE_UNAVAILABLE", "try again later"))


def _page(link_id: str, state: str, amount: int, currency: str) -> str:
    paid = state == "COMPLETED"
    action = escape(link_id)
    buttons = (
        "<p id='status'>Paid.</p>"
        if paid
        else f"""<form method="post" action="{action}">
<button id="pay" name="outcome" value="pay">Pay</button>
<button id="decline" name="outcome" value="decline">Decline</button></form>"""
    )
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Fake Square checkout</title></head><body>
<p>FAKE SQUARE — no real money</p>
<h1>Pay <span id="amount">{amount}</span> <span id="currency">{escape(currency)}</span></h1>
<p>(in Square's smallest unit of the currency)</p>{buttons}</body></html>"""
