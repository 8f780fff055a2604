"""A fake Adyen for tests and sandbox use: Checkout payment links, refunds, Transfers,
report downloads.

A stdlib HTTP server on 127.0.0.1 that speaks the JSON of Adyen's Checkout API v72
(``/checkout/v72/...``) and Transfers API v4 (``/btl/v4/...``), the paths the plugin's
:func:`~paymux_adyen.client.rebase` produces. It records every request, hands each to an
optional validator (the tests check them against Adyen's OpenAPI specs), honours
``Idempotency-Key`` (same key and body: the first answer again), serves a minimal hosted
page for each payment link, signs notifications exactly as Adyen does, and plays scripted
faults. With a ``webhook_url`` (sandbox mode) a payment on the hosted page is followed by
its signed ``AUTHORISATION`` notification, and each refund, shortly after it was received,
by its signed ``REFUND`` notification (the refund succeeded); both are POSTed there in the
background and retried on any non-2xx answer. :meth:`FakeAdyen.publish_report` stores a
report and signs its ``REPORT_AVAILABLE`` notification; the report is then served at
``/reports/download/MerchantAccount/<account>/<file>`` to a ``GET`` with the report user's
basic auth or the report API key (``x-api-key``), as Adyen's Customer Area serves it. Run
it alone with ``python -m paymux_adyen.fake_psp --port 8090``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import itertools
import json
import secrets
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from paymux.currencies import Money, get_currency
from paymux_adyen.signatures import sign_notification_item, sign_payload

CHECKOUT = "/checkout/v72"
TRANSFERS = "/btl/v4"
DEFAULT_MERCHANT_ACCOUNT = "PaymuxMarketplaceECOM"
DEFAULT_HMAC_KEY = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
DEFAULT_PLATFORM_HMAC_KEY = "D7DD5BA6146493707BF0BE7496F6404EC7A63616B7158EC927B9F54BB436765F"
PLATFORM_BALANCE_ACCOUNT = "BA00000000000000000000001"
REPORTS = "/reports/download/MerchantAccount"
DEFAULT_REPORT_USERNAME = "ReportUser@Company.PaymuxCompany"
DEFAULT_REPORT_PASSWORD = "fake-report-password"  # noqa: S105 - the fake's own test secret

FAULTS = ("timeout", "unavailable", "rejected", "reset", "conflict", "rate_limited", "refused")
"""Scripted faults: no answer in time, 500, 422, connection dropped after the request was
handled, 409 (idempotent request in progress), 429 with ``Retry-After``, and a declined
operation (a transfer ``refused`` for lack of balance; a 422 elsewhere)."""

# Adyen's own decimals where they differ from ISO 4217 (docs.adyen.com currency codes).
# Kept apart from the plugin's table on purpose: the fake decodes by Adyen's rules alone.
_ADYEN_EXCEPTIONS = {"CLP": 2, "ISK": 2, "CVE": 0, "IDR": 0}


def adyen_decimals(currency: str) -> int:
    """How many decimals Adyen's minor units of ``currency`` have."""
    return _ADYEN_EXCEPTIONS.get(currency, get_currency(currency).exponent)


def decode_amount(amount: dict[str, Any]) -> Money:
    """An Adyen ``Amount`` as paymux ``Money`` (ISO minor units), decoded by Adyen's rules."""
    currency = str(amount["currency"])
    value = int(amount["value"])
    shift = adyen_decimals(currency) - get_currency(currency).exponent
    if shift >= 0:
        whole, rest = divmod(value, 10**shift)
        if rest:
            raise ValueError(f"{value} {currency} is not a whole ISO minor unit")
        return Money(whole, currency)
    return Money(value * 10**-shift, currency)


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def new_psp_reference() -> str:
    """A fresh 16-character Adyen-style pspReference."""
    return "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(16))


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the fake received, as received."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The JSON body (``None`` when empty)."""
        return json.loads(self.body) if self.body else None


@dataclass
class PaymentLink:
    """A payment link held by the fake."""

    id: str
    request: dict[str, Any]
    url: str
    status: str = "active"
    updated_at: str = field(default_factory=_now)
    payment_psp_references: set[str] = field(default_factory=set)
    refunded: int = 0

    def answer(self) -> dict[str, Any]:
        """The ``PaymentLinkResponse``."""
        body = dict(self.request)
        body.update(id=self.id, url=self.url, status=self.status, updatedAt=self.updated_at)
        return body


@dataclass
class Fault:
    """A scripted failure for the next request."""

    kind: str
    retry_after: int = 1


Validator = Callable[[RecordedRequest], list[str]]


class FakeAdyen:
    """The fake Adyen server. Use as a context manager or call :meth:`start`/:meth:`stop`."""

    def __init__(
        self,
        *,
        merchant_account: str = DEFAULT_MERCHANT_ACCOUNT,
        hmac_key: str = DEFAULT_HMAC_KEY,
        platform_hmac_key: str = DEFAULT_PLATFORM_HMAC_KEY,
        platform_balance_account: str = PLATFORM_BALANCE_ACCOUNT,
        validator: Validator | None = None,
        stall_seconds: float = 2.0,
        webhook_url: str | None = None,
        refused_attempt_is_final: bool = False,
        delivery_attempts: int = 6,
        delivery_backoff_seconds: float = 0.1,
        refund_settle_seconds: float = 0.2,
        report_username: str | None = DEFAULT_REPORT_USERNAME,
        report_password: str | None = DEFAULT_REPORT_PASSWORD,
        report_api_key: str | None = None,
        port: int = 0,
    ) -> None:
        self.merchant_account = merchant_account
        self.hmac_key = hmac_key
        self.platform_hmac_key = platform_hmac_key
        self.platform_balance_account = platform_balance_account
        self.validator = validator
        self.stall_seconds = stall_seconds
        self.webhook_url = webhook_url
        self.refused_attempt_is_final = refused_attempt_is_final
        """When the hosted page's buyer is refused, expire the link (as paymux then fails
        the payment) instead of keeping it open for another attempt, as Adyen does."""
        self.delivery_attempts = delivery_attempts
        self.delivery_backoff_seconds = delivery_backoff_seconds
        self.refund_settle_seconds = refund_settle_seconds
        """With a ``webhook_url``: how long after a refund its REFUND notification is sent."""
        self.report_username = report_username
        self.report_password = report_password
        self.report_api_key = report_api_key
        """Who may download reports: this basic auth, or this ``x-api-key`` (``None``: no
        one that way)."""
        self.reports: dict[str, bytes] = {}
        """Report file name -> content, served at :meth:`report_url`."""
        self.deliveries: list[tuple[str, int | None]] = []
        """Each webhook POST: the event codes it carried and the answer (``None``: no answer)."""
        self._closed = threading.Event()
        self.requests: list[RecordedRequest] = []
        self.validation_errors: list[str] = []
        self.links: dict[str, PaymentLink] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.transfers: dict[str, dict[str, Any]] = {}
        self._idempotent: dict[tuple[str, str], tuple[str, int, dict[str, Any]]] = {}
        self._faults: list[Fault] = []
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """Where the fake listens, e.g. ``http://127.0.0.1:41234``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeAdyen:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted."""
        self._server.serve_forever()

    def stop(self) -> None:
        """Stop serving (if started), give up pending deliveries and close the socket."""
        self._closed.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> FakeAdyen:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- scripting ------------------------------------------------------------------------

    def fail_next(self, kind: str, *, retry_after: int = 1) -> None:
        """Make the next request fail with ``kind`` (one of :data:`FAULTS`)."""
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; choose from {FAULTS}")
        with self._lock:
            self._faults.append(Fault(kind, retry_after))

    def pay(self, link_id: str, *, success: bool, reason: str = "Refused") -> dict[str, Any]:
        """The buyer pays (or is refused) on the link; returns the AUTHORISATION item."""
        with self._lock:
            link = self.links[link_id]
            psp = new_psp_reference()
            if success:
                link.status = "completed"
                link.payment_psp_references.add(psp)
            link.updated_at = _now()
            return self.notification_item(
                "AUTHORISATION",
                psp_reference=psp,
                merchant_reference=str(link.request["reference"]),
                amount=dict(link.request["amount"]),
                success=success,
                reason="" if success else reason,
                additional={"paymentLinkId": link.id},
            )

    def expire(self, link_id: str) -> None:
        """The link expires (or the merchant deactivates it) without a payment."""
        with self._lock:
            self.links[link_id].status = "expired"
            self.links[link_id].updated_at = _now()

    def settle_refund(self, psp_reference: str, *, success: bool = True) -> dict[str, Any]:
        """Adyen's REFUND notification item for a refund it received."""
        refund = self.refunds[psp_reference]
        return self.notification_item(
            "REFUND",
            psp_reference=psp_reference,
            original_reference=refund["paymentPspReference"],
            merchant_reference=str(refund.get("reference", "")),
            amount=dict(refund["amount"]),
            success=success,
            reason="" if success else "Insufficient balance on payment",
        )

    def book_transfer(
        self, transfer_id: str, status: str = "booked"
    ) -> tuple[dict[str, str], bytes]:
        """Move a transfer on and return its signed ``balancePlatform.transfer.updated``."""
        with self._lock:
            transfer = self.transfers[transfer_id]
            transfer["status"] = status
            transfer["sequenceNumber"] = int(transfer.get("sequenceNumber", 1)) + 1
            return self.transfer_webhook(transfer)

    def report_url(self, name: str) -> str:
        """Where the report ``name`` is downloaded from."""
        return f"{self.base_url}{REPORTS}/{self.merchant_account}/{name}"

    def publish_report(self, name: str, content: bytes) -> dict[str, Any]:
        """Adyen generated the report ``name``: serve ``content`` and return its signed
        ``REPORT_AVAILABLE`` item (``pspReference``: the file name; ``reason``: the URL)."""
        with self._lock:
            self.reports[name] = content
        return self.notification_item(
            "REPORT_AVAILABLE",
            psp_reference=name,
            merchant_reference="",
            amount={"currency": "EUR", "value": 0},
            success=True,
            reason=self.report_url(name),
        )

    def downloads(self) -> list[RecordedRequest]:
        """The report downloads received so far."""
        with self._lock:
            return [r for r in self.requests if r.path.startswith(f"{REPORTS}/")]

    # -- signed webhooks ------------------------------------------------------------------

    def notification_item(
        self,
        event_code: str,
        *,
        psp_reference: str,
        merchant_reference: str,
        amount: dict[str, Any],
        success: bool,
        original_reference: str | None = None,
        reason: str = "",
        additional: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One signed ``NotificationRequestItem``, as Adyen sends it."""
        item: dict[str, Any] = {
            "amount": amount,
            "eventCode": event_code,
            "eventDate": _now(),
            "merchantAccountCode": self.merchant_account,
            "merchantReference": merchant_reference,
            "pspReference": psp_reference,
            "reason": reason,
            "success": "true" if success else "false",
        }
        if original_reference is not None:
            item["originalReference"] = original_reference
        item["additionalData"] = dict(additional or {})
        item["additionalData"]["hmacSignature"] = sign_notification_item(item, self.hmac_key)
        return item

    @staticmethod
    def notification_batch(*items: dict[str, Any]) -> tuple[dict[str, str], bytes]:
        """Headers and body of a classic notification POST carrying ``items``."""
        body = {
            "live": "false",
            "notificationItems": [{"NotificationRequestItem": i} for i in items],
        }
        return {"content-type": "application/json"}, json.dumps(body).encode()

    def transfer_webhook(
        self, transfer: dict[str, Any], kind: str = "balancePlatform.transfer.updated"
    ) -> tuple[dict[str, str], bytes]:
        """Headers and body of a signed transfer webhook for ``transfer``."""
        document = {
            "data": {
                **transfer,
                "balancePlatform": "PaymuxPlatform",
                "direction": "outgoing",
                "updatedAt": _now(),
            },
            "environment": "test",
            "timestamp": _now(),
            "type": kind,
        }
        body = json.dumps(document).encode()
        headers = {
            "content-type": "application/json",
            "hmacsignature": sign_payload(body, self.platform_hmac_key),
        }
        return headers, body

    def deliver(self, headers: dict[str, str], body: bytes) -> None:
        """POST a webhook to ``webhook_url`` in the background (sandbox use).

        A non-2xx answer or no answer is retried ``delivery_attempts`` times in all, the wait
        doubling from ``delivery_backoff_seconds`` (paymux answers 404 for a payment it does
        not know yet), until the fake stops. Nothing happens without a ``webhook_url``.
        """
        if self.webhook_url is None:
            return
        url = self.webhook_url
        threading.Thread(
            target=self._deliver_with_retries, args=(url, headers, body), daemon=True
        ).start()

    def settle_later(self, psp_reference: str) -> None:
        """Deliver the refund's successful ``REFUND`` notification after
        ``refund_settle_seconds``, from a delivery thread (sandbox use; nothing happens
        without a ``webhook_url`` or once the fake stopped)."""
        if self.webhook_url is None:
            return
        url = self.webhook_url

        def settle() -> None:
            if self._closed.wait(self.refund_settle_seconds):
                return
            with self._lock:
                item = self.settle_refund(psp_reference)
            self._deliver_with_retries(url, *self.notification_batch(item))

        threading.Thread(target=settle, daemon=True).start()

    def _deliver_with_retries(self, url: str, headers: dict[str, str], body: bytes) -> None:
        codes = ",".join(
            str(wrapper.get("NotificationRequestItem", {}).get("eventCode"))
            for wrapper in json.loads(body).get("notificationItems", [])
        )
        delay = self.delivery_backoff_seconds
        for attempt in range(self.delivery_attempts):
            if attempt and self._closed.wait(delay):
                return
            if attempt:
                delay *= 2
            status = _post(url, headers, body)
            with self._lock:
                self.deliveries.append((codes, status))
            if status is not None and 200 <= status < 300:
                return

    # -- request handling -----------------------------------------------------------------

    def handle(self, request: RecordedRequest) -> tuple[int, dict[str, str], Any] | str:
        """Answer one request: ``(status, headers, json)``, or a fault name to play."""
        with self._lock:
            self.requests.append(request)
            fault = self._faults.pop(0) if self._faults else None
        if self.validator is not None:
            errors = self.validator(request)
            if errors:
                with self._lock:
                    self.validation_errors.extend(errors)
                return 422, {}, _error(422, "validation", "; ".join(errors))
        if not request.headers.get("x-api-key"):
            return 401, {}, _error(401, "000", "HTTP Status Response - Unauthorized")
        if fault is not None:
            if fault.kind == "unavailable":
                return 500, {}, _error(500, "905", "Payment details are not supported")
            if fault.kind == "rejected":
                return 422, {}, _error(422, "14_030", "Return URL is missing.")
            if fault.kind == "conflict":
                return 409, {}, _error(409, "704", "request already processed or in progress")
            if fault.kind == "rate_limited":
                return 429, {"Retry-After": str(fault.retry_after)}, _error(429, "429", "Too many")
            if fault.kind == "refused" and not request.path.startswith(TRANSFERS):
                return 422, {}, _error(422, "167", "Original pspReference required")
        answer = self._idempotent_answer(request, fault)
        if fault is not None and fault.kind in ("timeout", "reset"):
            return fault.kind
        return answer

    def serve_report(self, request: RecordedRequest) -> tuple[int, dict[str, str], bytes] | str:
        """Answer a report download: 401 without the report credentials, a scripted fault,
        404 for a report of another account or none, else the file."""
        with self._lock:
            self.requests.append(request)
            if not self._may_download(request.headers):
                return 401, {"WWW-Authenticate": 'Basic realm="Adyen"'}, b"Unauthorized"
            fault = self._faults.pop(0) if self._faults else None
            account, _, name = request.path.removeprefix(f"{REPORTS}/").partition("/")
            content = self.reports.get(name) if account == self.merchant_account else None
        if fault is not None:
            if fault.kind in ("timeout", "reset"):
                return fault.kind
            if fault.kind == "rate_limited":
                return 429, {"Retry-After": str(fault.retry_after)}, b"Too many requests"
            return 500, {}, b"Internal Server Error"
        if content is None:
            return 404, {}, b"Not Found"
        return 200, {"Content-Disposition": f'attachment; filename="{name}"'}, content

    def _may_download(self, headers: dict[str, str]) -> bool:
        key = headers.get("x-api-key")
        if key is not None:
            return self.report_api_key is not None and secrets.compare_digest(
                key, self.report_api_key
            )
        given = headers.get("authorization", "")
        if self.report_username is None or self.report_password is None:
            return False
        expected = base64.b64encode(
            f"{self.report_username}:{self.report_password}".encode()
        ).decode()
        return secrets.compare_digest(given, f"Basic {expected}")

    def _idempotent_answer(
        self, request: RecordedRequest, fault: Fault | None
    ) -> tuple[int, dict[str, str], Any]:
        key = request.headers.get("idempotency-key")
        fingerprint = hashlib.sha256(request.body).hexdigest()
        if key is not None and request.method == "POST":
            with self._lock:
                known = self._idempotent.get((request.path, key))
                if known is not None:
                    if known[0] != fingerprint:
                        return 422, {}, _error(422, "704", "Idempotency key reused with new body")
                    return known[1], {}, known[2]
                status, headers, body = self._route(request, fault)
                if status < 300:
                    self._idempotent[(request.path, key)] = (fingerprint, status, body)
                return status, headers, body
        return self._route(request, fault)

    def _route(
        self, request: RecordedRequest, fault: Fault | None
    ) -> tuple[int, dict[str, str], Any]:
        path, method = request.path, request.method
        with self._lock:
            if method == "POST" and path == f"{CHECKOUT}/paymentLinks":
                return self._create_link(request)
            if method == "GET" and path.startswith(f"{CHECKOUT}/paymentLinks/"):
                link = self.links.get(path.rsplit("/", 1)[1])
                if link is None:
                    return 422, {}, _error(422, "14_0", "Payment link not found")
                return 200, {}, link.answer()
            if (
                method == "POST"
                and path.startswith(f"{CHECKOUT}/payments/")
                and path.endswith("/refunds")
            ):
                return self._refund(request, path.split("/")[-2])
            if method == "POST" and path == f"{TRANSFERS}/transfers":
                return self._transfer(
                    request, refused=fault is not None and fault.kind == "refused"
                )
        return 404, {}, _error(404, "000", f"no route {method} {path}")

    def _create_link(self, request: RecordedRequest) -> tuple[int, dict[str, str], Any]:
        body = request.json()
        link_id = f"PL{next(self._ids):04d}{secrets.token_hex(6).upper()}"
        link = PaymentLink(link_id, body, f"{self.base_url}/links/{link_id}")
        self.links[link_id] = link
        return 201, {}, link.answer()

    def _refund(self, request: RecordedRequest, payment: str) -> tuple[int, dict[str, str], Any]:
        body = request.json()
        link = next((x for x in self.links.values() if payment in x.payment_psp_references), None)
        if link is None:
            return 422, {}, _error(422, "167", "Original pspReference required for this operation")
        value = int(body["amount"]["value"])
        if body["amount"]["currency"] != link.request["amount"]["currency"] or (
            link.refunded + value > int(link.request["amount"]["value"])
        ):
            return 422, {}, _error(422, "137", "Invalid amount specified")
        link.refunded += value
        psp = new_psp_reference()
        answer = {
            "merchantAccount": body["merchantAccount"],
            "paymentPspReference": payment,
            "pspReference": psp,
            "reference": body.get("reference", ""),
            "status": "received",
            "amount": body["amount"],
        }
        self.refunds[psp] = answer
        self.settle_later(psp)
        return 201, {}, answer

    def _transfer(
        self, request: RecordedRequest, *, refused: bool
    ) -> tuple[int, dict[str, str], Any]:
        body = request.json()
        counterparty = body.get("counterparty", {}).get("balanceAccountId", "")
        if not str(counterparty).startswith("BA"):
            return 422, {}, _error(422, "30_112", "Counterparty balance account not found")
        transfer_id = f"{next(self._ids):04d}{secrets.token_hex(6).upper()}"
        transfer = {
            "id": transfer_id,
            "amount": body["amount"],
            "balanceAccount": {"id": body.get("balanceAccountId", self.platform_balance_account)},
            "category": body["category"],
            "counterparty": {"balanceAccountId": counterparty},
            "direction": "outgoing",
            "reference": body.get("reference", ""),
            "status": "refused" if refused else "authorised",
            "sequenceNumber": 1,
            "type": "internalTransfer",
        }
        if refused:
            transfer["reason"] = "notEnoughBalance"
        self.transfers[transfer_id] = transfer
        return 202, {}, dict(transfer)

    # -- hosted page ------------------------------------------------------------------------

    def hosted_page(self, link_id: str) -> str | None:
        """A minimal hosted payment page for the link (sandbox use)."""
        link = self.links.get(link_id)
        if link is None:
            return None
        money = decode_amount(link.request["amount"])
        title = html.escape(f"Pay {money.minor} minor units of {money.currency}")
        return (
            f"<!doctype html><title>Fake Adyen</title><h1>{title}</h1>"
            f"<p id=status>{html.escape(link.status)}</p>"
            f'<form method=post action="/links/{link_id}/pay">'
            "<button name=outcome value=paid id=pay>Pay</button>"
            "<button name=outcome value=refused id=refuse>Refuse</button></form>"
        )


def _post(url: str, headers: dict[str, str], body: bytes) -> int | None:
    """POST once; the answer's status, or ``None`` when there was no answer."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return None


def _error(status: int, code: str, message: str) -> dict[str, Any]:
    return {"status": status, "errorCode": code, "message": message, "errorType": "validation"}


def _handler_for(fake: FakeAdyen) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

        def _read(self) -> RecordedRequest:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            headers = {name.lower(): value for name, value in self.headers.items()}
            return RecordedRequest(self.command, parts.path, parts.query, headers, body)

        def _send(self, status: int, headers: dict[str, str], body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _serve(self) -> None:
            request = self._read()
            if request.path.startswith("/links/"):
                self._serve_page(request)
                return
            if request.path.startswith(f"{REPORTS}/") and self.command == "GET":
                self._serve_report(request)
                return
            answer = fake.handle(request)
            if answer == "reset":
                with suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            if answer == "timeout":
                time.sleep(fake.stall_seconds)
                self.close_connection = True
                return
            assert not isinstance(answer, str)
            status, headers, payload = answer
            with suppress(OSError):
                self._send(status, headers, json.dumps(payload).encode(), "application/json")

        def _serve_report(self, request: RecordedRequest) -> None:
            answer = fake.serve_report(request)
            if isinstance(answer, str):
                self._fail(answer)
                return
            status, headers, body = answer
            with suppress(OSError):
                self._send(status, headers, body, "text/csv" if status == 200 else "text/plain")

        def _fail(self, fault: str) -> None:
            if fault == "reset":
                with suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
            else:  # timeout: no answer in time
                time.sleep(fake.stall_seconds)
            self.close_connection = True

        def _serve_page(self, request: RecordedRequest) -> None:
            parts = request.path.strip("/").split("/")
            if self.command == "GET" and len(parts) == 2:
                page = fake.hosted_page(parts[1])
                if page is not None:
                    self._send(200, {}, page.encode(), "text/html; charset=utf-8")
                    return
            if self.command == "POST" and len(parts) == 3 and parts[2] == "pay":
                link = fake.links.get(parts[1])
                if link is not None and link.status == "active":
                    outcome = parse_qs(request.body.decode()).get("outcome", ["paid"])[0]
                    item = fake.pay(link.id, success=outcome == "paid")
                    if outcome != "paid" and fake.refused_attempt_is_final:
                        fake.expire(link.id)
                    fake.deliver(*fake.notification_batch(item))
                    target = str(link.request.get("returnUrl") or f"/links/{link.id}")
                    self._send(303, {"Location": target}, b"", "text/plain")
                    return
            self._send(404, {}, b"not found", "text/plain")

        do_GET = _serve  # noqa: N815
        do_POST = _serve  # noqa: N815
        do_PATCH = _serve  # noqa: N815

    return Handler


@contextmanager
def running(**options: Any) -> Iterator[FakeAdyen]:
    """A started fake, stopped at the end of the block."""
    fake = FakeAdyen(**options).start()
    try:
        yield fake
    finally:
        fake.stop()


def main() -> None:  # pragma: no cover - manual use
    """Run the fake in the foreground (sandbox use)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--webhook-url", default=None)
    options = parser.parse_args()
    fake = FakeAdyen(port=options.port, webhook_url=options.webhook_url)
    print(f"fake Adyen at {fake.base_url}")
    fake.serve_forever()


if __name__ == "__main__":  # pragma: no cover
    main()
