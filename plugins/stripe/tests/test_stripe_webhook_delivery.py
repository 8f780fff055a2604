"""The fake Stripe delivers the events of its hosted page, signed, in order, with retries."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import ProviderEvent
from paymux_stripe.config import StripeConfig
from paymux_stripe.fake_stripe import FakeStripe, FakeStripeServer
from paymux_stripe.provider import StripeProvider
from paymux_stripe.webhook_delivery import WebhookSender


class Receiver(ThreadingHTTPServer):
    """A webhook endpoint on 127.0.0.1 answering ``404`` to the first ``refuse`` posts."""

    daemon_threads = True

    def __init__(self, refuse: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.refuse = refuse
        self.received: list[tuple[int, dict[str, str], bytes]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1/webhooks/stripe"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            status = 404 if self.server.refuse > 0 else 200
            self.server.refuse -= 1
            headers = {name.lower(): value for name, value in self.headers.items()}
            self.server.received.append((status, headers, body))
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def receiver(request: pytest.FixtureRequest) -> Iterator[Receiver]:
    server = Receiver(refuse=getattr(request, "param", 0))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _served(webhook_url: str | None) -> tuple[FakeStripeServer, StripeProvider]:
    fake = FakeStripe(
        api_key="sk_test_delivery",
        webhook_secret="whsec_delivery",
        webhook_url=webhook_url,
        delivery_backoff_seconds=0.02,
    )
    server = FakeStripeServer(fake).start()
    config = StripeConfig(
        api_key=fake.api_key, webhook_secret=fake.webhook_secret, api_base=server.url
    )
    return server, StripeProvider(config)


def _session(server: FakeStripeServer) -> str:
    fake = server.fake
    created = httpx.post(
        f"{server.url}/v1/checkout/sessions",
        headers={"Authorization": f"Bearer {fake.api_key}"},
        data={
            "mode": "payment",
            "success_url": "http://127.0.0.1:9/done",
            "line_items[0][quantity]": "1",
            "line_items[0][price_data][currency]": "usd",
            "line_items[0][price_data][unit_amount]": "1250",
            "line_items[0][price_data][product_data][name]": "Order",
            "metadata[paymux_payment_id]": "pay_1",
        },
    )
    assert created.status_code == 200, created.text
    return str(created.json()["id"])


def _press(server: FakeStripeServer, session_id: str, outcome: str) -> None:
    answer = httpx.post(f"{server.url}/pay/{session_id}", data={"outcome": outcome})
    assert answer.status_code == 303
    assert answer.headers["location"] == "http://127.0.0.1:9/done"


@pytest.mark.parametrize("receiver", [2], indirect=True)
async def test_a_paid_session_is_delivered_signed_after_retries(receiver: Receiver) -> None:
    server, provider = _served(receiver.url)
    try:
        session_id = _session(server)
        _press(server, session_id, "succeeded")
        assert server.fake.webhooks is not None
        server.fake.webhooks.wait_idle()
        assert [status for status, _, _ in receiver.received] == [404, 404, 200]
        _, headers, body = receiver.received[-1]
        assert headers["content-type"] == "application/json"
        assert headers["stripe-signature"].startswith("t=")
        (event,) = provider.parse_webhook(headers, body)  # the plugin's own verification
        assert isinstance(event, ProviderEvent)
        assert (event.token, event.status) == (session_id, PaymentStatus.SUCCEEDED)
        assert server.fake.webhooks.delivered() == [body]
    finally:
        await provider.aclose()
        server.stop()


async def test_a_declined_session_completes_unpaid_then_fails(receiver: Receiver) -> None:
    server, provider = _served(receiver.url)
    try:
        session_id = _session(server)
        _press(server, session_id, "failed")
        assert server.fake.webhooks is not None
        server.fake.webhooks.wait_idle()
        kinds = [json.loads(body)["type"] for _, _, body in receiver.received]
        assert kinds == ["checkout.session.completed", "checkout.session.async_payment_failed"]
        assert [event["type"] for event in server.fake.events] == kinds
        statuses = [
            event.status
            for _, headers, body in receiver.received
            for event in provider.parse_webhook(headers, body)
            if isinstance(event, ProviderEvent)
        ]
        assert statuses == [PaymentStatus.PENDING, PaymentStatus.FAILED]
    finally:
        await provider.aclose()
        server.stop()


@pytest.mark.parametrize("receiver", [100], indirect=True)
def test_delivery_gives_up_after_its_attempts(receiver: Receiver) -> None:
    sender = WebhookSender(receiver.url, attempts=3, backoff_seconds=0.01)
    sender.send([({"content-type": "application/json"}, b"{}")])
    sender.wait_idle()
    assert len(receiver.received) == 3
    assert sender.delivered() == []
    assert [attempt.status for attempt in sender.log] == [404, 404, 404]


def test_an_unreachable_endpoint_is_logged_not_raised() -> None:
    sender = WebhookSender("http://127.0.0.1:9/v1/webhooks/stripe", attempts=2, backoff_seconds=0)
    sender.send([({}, b"{}")])
    sender.wait_idle()
    assert [attempt.status for attempt in sender.log] == [None, None]
    assert all(attempt.error for attempt in sender.log)
    sender.stop()
    sender.send([({}, b"{}")])  # stopped: nothing more is sent
    sender.wait_idle()
    assert len(sender.log) == 2


def test_only_http_urls_are_accepted() -> None:
    with pytest.raises(ValueError, match="http"):
        WebhookSender("file:///etc/passwd")


async def test_without_a_webhook_url_nothing_is_delivered() -> None:
    server, provider = _served(None)
    try:
        session_id = _session(server)
        _press(server, session_id, "succeeded")
        assert server.fake.webhooks is None
        assert [event["type"] for event in server.fake.events] == ["checkout.session.completed"]
    finally:
        await provider.aclose()
        server.stop()
        server.stop()  # idempotent
