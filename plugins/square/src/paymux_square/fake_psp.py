"""The fake Square API served over HTTP on 127.0.0.1 (stdlib server, one thread per request).

Point the SDK (and so :class:`~paymux_square.provider.SquareProvider`) at
:attr:`FakeSquareServer.base_url` with the ``base_url`` setting. Given a ``webhook_url``
and the ``webhook_signature_key``, the server also delivers every webhook event the fake
produces (a buyer paying on the hosted page, a refund, a dispute) to that URL, signed as
Square signs them (:mod:`paymux_square.fake_webhooks`); without one nothing is sent.
With a ``webhook_url`` the server also settles each new (``PENDING``) refund shortly after
it was created, as Square does: the refund becomes ``COMPLETED`` and its ``refund.updated``
is delivered after its ``refund.created``.

Scripted ``timeout`` faults answer after :attr:`FakeSquareServer.stall_seconds`;
``reset`` faults drop the connection with a TCP reset after the request was acted on.
"""

from __future__ import annotations

import json
import logging
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from paymux_square.fake_square import Answer, FakeSquare
from paymux_square.fake_webhooks import WebhookSender

log = logging.getLogger(__name__)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: FakeSquare
    stall_seconds: float

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("fake Square: connection from %s ended abruptly", client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("fake Square: " + format, *args)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        answer = self.server.fake.handle(
            self.command, url.path, dict(parse_qsl(url.query)), headers, body
        )
        if answer.action == "reset":
            self._reset()
            return
        if answer.action == "stall":
            time.sleep(self.server.stall_seconds)
        self._send(answer)

    def _send(self, answer: Answer) -> None:
        if isinstance(answer.body, dict):
            payload, content_type = json.dumps(answer.body).encode(), "application/json"
        else:
            payload, content_type = (answer.body or "").encode(), "text/html; charset=utf-8"
        try:
            self.send_response(answer.status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(payload)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client gave up (a stalled answer after its timeout)
            self.close_connection = True

    def _reset(self) -> None:
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()


class FakeSquareServer:
    """Serves a :class:`FakeSquare` on ``127.0.0.1`` at a free port, in a daemon thread."""

    def __init__(
        self,
        fake: FakeSquare | None = None,
        *,
        host: str = "127.0.0.1",
        stall_seconds: float = 2.0,
        webhook_url: str | None = None,
        webhook_signature_key: str | None = None,
        notification_url: str | None = None,
        refund_settle_seconds: float | None = 0.2,
    ) -> None:
        """``webhook_url`` turns delivery on (it needs ``webhook_signature_key``);
        ``notification_url`` is the URL signed with the body (default: ``webhook_url``);
        ``refund_settle_seconds`` is how long after its creation a refund is settled when
        webhooks are delivered (``None``: never, refunds wait for :meth:`FakeSquare.settle_refund
        <paymux_square.fake_square.FakeSquare.settle_refund>`)."""
        if webhook_url is not None and not webhook_signature_key:
            raise ValueError("delivering webhooks needs the webhook signature key")
        self._server = _Server((host, 0), _Handler)
        self._server.stall_seconds = stall_seconds
        port = self._server.server_address[1]
        self.base_url = f"http://{host}:{port}"
        self.fake = fake or FakeSquare(public_url=self.base_url)
        self._server.fake = self.fake
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._closing = threading.Event()
        self.refund_settle_seconds = refund_settle_seconds
        self.webhooks: WebhookSender | None = None
        """What delivers the fake's events, when a ``webhook_url`` was given."""
        if webhook_url is not None and webhook_signature_key:
            self.webhooks = WebhookSender(
                webhook_url,
                signature_key=webhook_signature_key,
                notification_url=notification_url,
            )
            self.fake.on_event = self._on_event

    def _on_event(self, event: dict[str, Any]) -> None:
        """Deliver ``event``; a new pending refund is also settled a little later."""
        assert self.webhooks is not None
        self.webhooks(event)
        if event.get("type") != "refund.created" or self.refund_settle_seconds is None:
            return
        refund = event.get("data", {}).get("object", {}).get("refund", {})
        if refund.get("status") == "PENDING":
            threading.Thread(
                target=self._settle_later,
                args=(str(refund["id"]), self.refund_settle_seconds),
                name="fake-square-refund-settlement",
                daemon=True,
            ).start()

    def _settle_later(self, refund_id: str, delay_seconds: float) -> None:
        if self._closing.wait(delay_seconds):
            return
        if self.fake.refunds.get(refund_id, {}).get("status") == "PENDING":
            self.fake.settle_refund(refund_id, "COMPLETED")

    @property
    def stall_seconds(self) -> float:
        """How long a ``timeout`` fault delays its answer."""
        return self._server.stall_seconds

    def start(self) -> FakeSquareServer:
        """Serve in a daemon thread; returns ``self``."""
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},  # shutdown() waits up to one interval
            name="fake-square",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the socket and stop delivering webhooks; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._closing.set()
        if self.webhooks is not None:
            self.webhooks.stop()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> FakeSquareServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
