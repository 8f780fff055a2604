"""The fake Adyen settles refunds by a signed REFUND notification only in sandbox use."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from paymux_adyen.fake_psp import CHECKOUT, DEFAULT_HMAC_KEY, FakeAdyen
from paymux_adyen.signatures import notification_item_is_valid


class Receiver(ThreadingHTTPServer):
    """Records each POSTed body and answers 200."""

    daemon_threads = True
    received: list[bytes]


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.server.received.append(self.rfile.read(int(self.headers["content-length"])))
        self.send_response(200)
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


def _refund(fake: FakeAdyen) -> tuple[str, dict[str, Any]]:
    """A paid link refunded by 10.00 EUR: the payment's pspReference and the answer."""
    headers = {"x-api-key": "k"}
    link = httpx.post(
        f"{fake.base_url}{CHECKOUT}/paymentLinks",
        json={
            "merchantAccount": fake.merchant_account,
            "reference": "pay_1",
            "amount": {"value": 3000, "currency": "EUR"},
        },
        headers=headers,
    ).json()
    item = fake.pay(link["id"], success=True)
    payment = str(item["pspReference"])
    answer = httpx.post(
        f"{fake.base_url}{CHECKOUT}/payments/{payment}/refunds",
        json={
            "merchantAccount": fake.merchant_account,
            "reference": "rf_1",
            "amount": {"value": 1000, "currency": "EUR"},
        },
        headers=headers,
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["status"] == "received"
    return payment, answer.json()


def test_with_a_webhook_url_a_refund_is_followed_by_its_refund_notification(
    receiver: Receiver,
) -> None:
    url = f"http://127.0.0.1:{receiver.server_address[1]}/v1/webhooks/adyen"
    with FakeAdyen(webhook_url=url, refund_settle_seconds=0.05) as fake:
        payment, refund = _refund(fake)
        deadline = time.monotonic() + 5
        while not receiver.received:
            assert time.monotonic() < deadline, "no notification"
            time.sleep(0.02)
        assert fake.deliveries == [("REFUND", 200)]
    (body,) = receiver.received
    (wrapper,) = json.loads(body)["notificationItems"]
    item = wrapper["NotificationRequestItem"]
    assert notification_item_is_valid(item, DEFAULT_HMAC_KEY)
    assert {k: item[k] for k in ("eventCode", "success", "merchantReference")} == {
        "eventCode": "REFUND",
        "success": "true",
        "merchantReference": "rf_1",
    }
    assert (item["pspReference"], item["originalReference"]) == (refund["pspReference"], payment)
    assert item["amount"] == {"value": 1000, "currency": "EUR"}


def test_without_a_webhook_url_nothing_settles_a_refund() -> None:
    with FakeAdyen(refund_settle_seconds=0.01) as fake:
        _refund(fake)
        time.sleep(0.2)
        assert fake.deliveries == []
