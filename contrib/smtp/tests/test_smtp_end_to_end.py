"""End to end: a buyer pays on the sandbox's hosted page and gets exactly one e-mail.

``paymux serve``'s app on SQLite runs the worker in its own process; the SMTP plugin is found
through its entry point and configured from the environment, as in production.
"""

from __future__ import annotations

import time

import pytest

from paymux_smtp_server import LocalSmtp
from paymux_test_support import (
    SUCCESS_CARD,
    auth,
    live_service,
    pay_on_hosted_page,
    payment_body,
    wait_for_status,
)


def test_a_paid_checkout_sends_the_buyer_exactly_one_email(
    sqlite_url: str, smtp_server: LocalSmtp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYMUX_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PAYMUX_SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv("PAYMUX_SMTP_FROM", "Demo Shop <orders@shop.example>")
    monkeypatch.setenv("PAYMUX_SMTP_STARTTLS", "false")
    body = payment_body(buyer_email="jane@buyer.example")
    body["orders"][0]["estimated_delivery"] = "2026-12-01/2026-12-03"

    with live_service(sqlite_url) as service, service.client() as client:
        created = client.post("/v1/payments", json=body, headers=auth(idempotency_key="e2e-1"))
        assert created.status_code == 201, created.text
        payment = created.json()
        assert smtp_server.inbox.messages == []  # nothing before the payment succeeded

        assert pay_on_hosted_page(payment["redirect_url"], SUCCESS_CARD).status_code == 200
        wait_for_status(client, payment["id"], "succeeded", timeout=5.0)
        deadline = time.monotonic() + 10
        while not smtp_server.inbox.messages and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.5)  # a second e-mail would have been sent by now (the worker idles 1 s)

    [message] = smtp_server.inbox.messages
    assert message["To"] == "jane@buyer.example"
    assert message["Subject"] == "Your payment of €42.50 succeeded"
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    content = str(text.get_content())
    assert "order order-1 from seller-a: €30.00, estimated delivery Dec 1\u2009–\u20093, 2026" in (
        content
    )
    assert "order order-2 from seller-b: €12.50\r\n" in content
    assert f"{service.url}/checkout/{payment['id']}?sig=" in content
