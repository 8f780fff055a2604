"""The fake Square's webhook delivery: signed as Square signs, in order, retried on non-2xx."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from paymux_square.fake_psp import FakeSquareServer
from paymux_square.fake_webhooks import WebhookSender
from paymux_square.webhooks import verify

KEY = "fake-signature-key"
NOTIFICATION_URL = "https://paymux.example/v1/webhooks/square"


class Receiver(ThreadingHTTPServer):
    """Answers ``404`` to the first ``refusals`` posts, then ``200``; records each."""

    daemon_threads = True
    refusals = 0
    received: list[tuple[dict[str, str], bytes, int]]


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        status = 404 if self.server.refusals > 0 else 200
        self.server.refusals -= 1
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.received.append((headers, body, status))
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(("127.0.0.1", 0), _Handler)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def _url(receiver: Receiver) -> str:
    return f"http://127.0.0.1:{receiver.server_address[1]}/v1/webhooks/square"


def _wait(condition: Any) -> None:
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _paid_link(server: FakeSquareServer) -> str:
    created = httpx.post(
        f"{server.base_url}/v2/online-checkout/payment-links",
        json={
            "idempotency_key": "k1",
            "order": {
                "location_id": "L1",
                "line_items": [
                    {
                        "name": "x",
                        "quantity": "1",
                        "base_price_money": {"amount": 500, "currency": "USD"},
                    }
                ],
            },
        },
        headers={"authorization": "Bearer t"},
    ).json()
    link_id: str = created["payment_link"]["id"]
    return link_id


def test_paying_on_the_page_delivers_signed_events_in_order_with_retries(
    receiver: Receiver,
) -> None:
    receiver.refusals = 2  # paymux does not know the token yet
    with FakeSquareServer(
        webhook_url=_url(receiver),
        webhook_signature_key=KEY,
        notification_url=NOTIFICATION_URL,
    ) as server:
        link_id = _paid_link(server)
        page = httpx.post(f"{server.base_url}/checkout/{link_id}", data={"outcome": "pay"})
        assert page.status_code == 200  # no redirect_url configured: the page says "Paid."
        assert server.webhooks is not None
        webhooks = server.webhooks
        _wait(lambda: len(webhooks.delivered) == 2)
    statuses = [status for _, _, status in receiver.received]
    assert statuses == [404, 404, 200, 200]
    kinds = []
    for headers, body, _ in receiver.received:
        verify(headers, body, signature_key=KEY, notification_url=NOTIFICATION_URL)
        kinds.append(httpx.Response(200, content=body).json()["type"])
    assert kinds == ["payment.created"] * 3 + ["payment.updated"]
    assert [e["event_id"] for e in server.fake.events] == webhooks.delivered


def test_an_event_refused_every_time_is_dropped(receiver: Receiver) -> None:
    receiver.refusals = 100
    webhooks = WebhookSender(_url(receiver), signature_key=KEY, first_pause_seconds=0.01)
    webhooks({"event_id": "e1", "type": "payment.updated"})
    _wait(lambda: webhooks.dropped == ["e1"])
    assert [a.status_code for a in webhooks.attempts] == [404] * 6
    webhooks.stop()
    webhooks.stop()  # idempotent
    webhooks({"event_id": "e2", "type": "payment.updated"})  # ignored once stopped
    assert webhooks.dropped == ["e1"]
    assert len(receiver.received) == 6


def test_without_a_webhook_url_nothing_is_delivered() -> None:
    with FakeSquareServer() as server:
        assert server.webhooks is None
        assert server.fake.on_event is None


def test_delivery_needs_the_signature_key() -> None:
    with pytest.raises(ValueError, match="signature key"):
        FakeSquareServer(webhook_url="http://127.0.0.1:9/")


def _refund(server: FakeSquareServer, link_id: str) -> str:
    """Pay on the link's page, then refund 2.00 of it; the refund's id."""
    httpx.post(f"{server.base_url}/checkout/{link_id}", data={"outcome": "pay"})
    (payment_id,) = server.fake.payments
    answer = httpx.post(
        f"{server.base_url}/v2/refunds",
        json={
            "idempotency_key": "r1",
            "payment_id": payment_id,
            "amount_money": {"amount": 200, "currency": "USD"},
        },
        headers={"authorization": "Bearer t"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["refund"]["status"] == "PENDING"
    refund_id: str = answer.json()["refund"]["id"]
    return refund_id


def test_with_a_webhook_url_a_refund_is_settled_shortly_after(receiver: Receiver) -> None:
    with FakeSquareServer(
        webhook_url=_url(receiver),
        webhook_signature_key=KEY,
        notification_url=NOTIFICATION_URL,
        refund_settle_seconds=0.05,
    ) as server:
        refund_id = _refund(server, _paid_link(server))
        assert server.webhooks is not None
        webhooks = server.webhooks
        _wait(lambda: len(webhooks.delivered) == 4)
        assert server.fake.refunds[refund_id]["status"] == "COMPLETED"
    events = []
    for headers, body, _ in receiver.received:
        verify(headers, body, signature_key=KEY, notification_url=NOTIFICATION_URL)
        events.append(httpx.Response(200, content=body).json())
    assert [e["type"] for e in events[2:]] == ["refund.created", "refund.updated"]
    updated = events[3]["data"]["object"]["refund"]
    assert (updated["id"], updated["status"], updated["version"]) == (refund_id, "COMPLETED", 2)


def test_refunds_stay_pending_without_a_webhook_url_or_a_settle_delay(
    receiver: Receiver,
) -> None:
    with FakeSquareServer() as plain:
        refund_id = _refund(plain, _paid_link(plain))
        time.sleep(0.3)
        assert plain.fake.refunds[refund_id]["status"] == "PENDING"
    with FakeSquareServer(
        webhook_url=_url(receiver), webhook_signature_key=KEY, refund_settle_seconds=None
    ) as server:
        refund_id = _refund(server, _paid_link(server))
        time.sleep(0.3)
        assert server.fake.refunds[refund_id]["status"] == "PENDING"
        assert [e["type"] for e in server.fake.events][-1] == "refund.created"
