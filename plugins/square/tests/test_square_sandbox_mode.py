"""Sandbox mode end to end: a markets file with ``sandbox = true`` for Square, a real paymux
app over HTTP, the buyer paying on the fake Square's hosted page, and the fake's signed
webhooks moving the payment, its refund and the seller's wallet. Nothing leaves 127.0.0.1."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from paymux.app import create_app
from paymux.core.providers import ProviderContext
from paymux.core.settings import Settings
from paymux_square.plugin import build_provider
from paymux_square.provider import SquareProvider
from paymux_test_support import (
    API_KEY,
    auth,
    count_rows,
    free_socket,
    serve_in_thread,
    wait_for_status,
)

MARKETS = """
version = 1

[providers.square]
sandbox = true
[providers.square.config]
access_token = "sandbox-square-token"
location_id = "LSANDBOX"
webhook_signature_key = "sandbox-signature-key"
request_timeout_seconds = 5.0

[markets.us]
countries = ["US"]
[markets.us.currencies.USD]
methods.card = ["square"]
"""


@dataclass
class Service:
    url: str
    client: httpx.Client
    database_url: str


@pytest.fixture
def service(database_url: str, tmp_path: Path) -> Iterator[Service]:
    markets_file = tmp_path / "markets.toml"
    markets_file.write_text(MARKETS)
    sock = free_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = Settings(
        database_url=database_url,
        public_url=url,
        api_keys={API_KEY: "dev"},
        markets_file=markets_file,
    )
    app = create_app(settings)
    with (
        serve_in_thread(app, sock),
        httpx.Client(base_url=url, headers=auth(), timeout=10.0) as client,
    ):
        yield Service(url, client, database_url)


def _body(key: str) -> dict[str, Any]:
    return {
        "buyer_id": "buyer-1",
        "currency": "USD",
        "country": "US",
        "payment_method": "card",
        "return_url": "https://shop.example/thanks",
        "orders": [
            {
                "seller_id": f"seller-{key}",
                "amount": "30.00",
                "commission": "3.00",
                "reference": f"order-{key}",
            }
        ],
    }


def _create(service: Service, key: str) -> dict[str, Any]:
    response = service.client.post(
        "/v1/payments", json=_body(key), headers={"Idempotency-Key": key}
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _press(redirect_url: str, button: str) -> httpx.Response:
    """Open the fake's hosted page and press ``button`` (``pay`` or ``decline``) as its
    form does; the buyer's redirect is not followed (it leads off 127.0.0.1 in the end)."""
    with httpx.Client(timeout=10.0, trust_env=False) as browser:
        page = browser.get(redirect_url)
        assert page.status_code == 200
        form = re.search(r'<form method="post" action="([^"]+)"', page.text)
        assert form is not None, page.text
        assert f'id="{button}" name="outcome" value="{button}"' in page.text
        return browser.post(httpx.URL(redirect_url).join(form.group(1)), data={"outcome": button})


def _processed_webhooks(database_url: str, at_least: int) -> int:
    deadline = time.monotonic() + 5
    while (count := count_rows(database_url)["processed_webhook_event"]) < at_least:
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return count


def _wait_for_refund(service: Service, refund_id: str, status: str) -> dict[str, Any]:
    """Poll ``GET /v1/refunds/{id}`` until the refund reaches ``status``."""
    deadline = time.monotonic() + 5.0
    while True:
        body: dict[str, Any] = service.client.get(f"/v1/refunds/{refund_id}").json()
        if body["status"] == status or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def test_a_payment_is_paid_on_the_fake_square_and_reported_by_webhooks(
    service: Service,
) -> None:
    created = _create(service, "paid")
    fake_url = httpx.URL(created["redirect_url"])
    assert (fake_url.host, fake_url.path.startswith("/checkout/")) == ("127.0.0.1", True)
    assert not created["redirect_url"].startswith(service.url)

    answer = _press(created["redirect_url"], "pay")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith(service.url)  # paymux's buyer return link

    wait_for_status(service.client, created["id"], "succeeded", timeout=5.0)
    # payment.created (APPROVED) and payment.updated (COMPLETED), both accepted.
    assert _processed_webhooks(service.database_url, 2) == 2
    (balance,) = service.client.get("/v1/wallets/seller-paid").json()["balances"]
    assert (balance["currency"], balance["pending"], balance["available"]) == (
        "USD",
        "30.00",
        "0.00",
    )

    # a refund: Square answers PENDING, the fake settles it shortly after (refund.updated)
    refund = service.client.post(
        f"/v1/payments/{created['id']}/refunds",
        json={"amount": "10.00"},
        headers={"Idempotency-Key": "paid-refund"},
    )
    assert refund.status_code == 201, refund.text
    assert refund.json()["status"] == "pending"
    settled = _wait_for_refund(service, refund.json()["id"], "succeeded")
    assert settled["status"] == "succeeded", settled
    # refund.created (PENDING) and refund.updated (COMPLETED) were accepted too
    assert _processed_webhooks(service.database_url, 4) == 4
    (balance,) = service.client.get("/v1/wallets/seller-paid").json()["balances"]
    assert (balance["pending"], balance["available"]) == ("20.00", "0.00")


def test_a_declined_card_fails_the_payment(service: Service) -> None:
    created = _create(service, "declined")
    answer = _press(created["redirect_url"], "decline")
    assert answer.status_code == 303
    failed = wait_for_status(service.client, created["id"], "failed", timeout=5.0)
    assert failed["status"] == "failed"
    assert _processed_webhooks(service.database_url, 1) == 1
    wallet = service.client.get("/v1/wallets/seller-declined")
    assert wallet.status_code == 200
    assert all(b["pending"] == "0.00" for b in wallet.json()["balances"])


def test_the_fake_square_stops_with_the_app(database_url: str, tmp_path: Path) -> None:
    markets_file = tmp_path / "markets.toml"
    markets_file.write_text(MARKETS)
    sock = free_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(
        Settings(
            database_url=database_url,
            public_url=url,
            api_keys={API_KEY: "dev"},
            markets_file=markets_file,
        )
    )
    with serve_in_thread(app, sock), httpx.Client(base_url=url, headers=auth()) as client:
        created = client.post("/v1/payments", json=_body("s"), headers={"Idempotency-Key": "s"})
        fake_page = created.json()["redirect_url"]
        assert httpx.get(fake_page, trust_env=False).status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(fake_page, trust_env=False)


async def test_without_sandbox_or_with_a_base_url_no_fake_is_started() -> None:
    config = {
        "access_token": "t",
        "location_id": "L",
        "webhook_signature_key": "k",
    }

    def context(sandbox: bool, **extra: Any) -> ProviderContext:
        return ProviderContext(
            name="square",
            mode="sandbox",
            public_url="http://127.0.0.1:9",
            webhook_url="http://127.0.0.1:9/v1/webhooks/square",
            config={**config, **extra},
            sandbox=sandbox,
        )

    for built in (
        build_provider(context(False)),
        build_provider(context(True, base_url="http://127.0.0.1:1")),
    ):
        assert isinstance(built, SquareProvider)
        assert built._on_close is None
        await built.aclose()
    sandboxed = build_provider(context(True))
    assert isinstance(sandboxed, SquareProvider)
    assert sandboxed._on_close is not None
    await sandboxed.aclose()
    await sandboxed.aclose()  # idempotent
