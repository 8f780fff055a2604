"""``sandbox = true`` in the markets file: paymux runs Stripe against the plugin's fake Stripe.

A real paymux app is served over HTTP on 127.0.0.1; the buyer pays (or declines) on the fake's
hosted page; the fake delivers the signed ``checkout.session.*`` webhooks to paymux, which
settles the payment by itself. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from paymux.app import create_app
from paymux.core.providers import ProviderContext
from paymux.core.settings import Settings
from paymux_stripe.plugin import build_provider
from paymux_stripe.provider import StripeProvider
from paymux_test_support import API_KEY, auth, free_socket, serve_in_thread

MARKETS = """\
version = 1

[providers.stripe]
sandbox = true
[providers.stripe.config]
api_key = "sk_test_sandbox"
webhook_secret = "whsec_sandbox"

[markets.us]
countries = ["US"]
[markets.us.currencies.USD]
methods.card = ["stripe"]
"""


@dataclass
class Paymux:
    """paymux served on a real port, with Stripe in sandbox mode."""

    url: str
    app: FastAPI
    client: httpx.Client


@pytest.fixture
def paymux(database_url: str, tmp_path: Path) -> Iterator[Paymux]:
    markets = tmp_path / "markets.toml"
    markets.write_text(MARKETS, "utf-8")
    sock = free_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = Settings(
        database_url=database_url,
        public_url=url,
        api_keys={API_KEY: "dev"},
        markets_file=markets,
    )
    app = create_app(settings)
    with (
        serve_in_thread(app, sock),
        httpx.Client(base_url=url, headers=auth(), timeout=10.0) as client,
    ):
        yield Paymux(url=url, app=app, client=client)


def _checkout(paymux: Paymux, key: str) -> dict[str, Any]:
    created = paymux.client.post(
        "/v1/payments",
        headers={"Idempotency-Key": key},
        json={
            "buyer_id": "buyer-1",
            "currency": "USD",
            "country": "US",
            "payment_method": "card",
            "return_url": "https://shop.example/thanks",
            "orders": [
                {
                    "seller_id": "seller-a",
                    "amount": "30.00",
                    "commission": "3.00",
                    "logistics_fee": "4.50",
                    "reference": "order-1",
                },
                {"seller_id": "seller-b", "amount": "12.50", "reference": "order-2"},
            ],
        },
    )
    assert created.status_code == 201, created.text
    payment: dict[str, Any] = created.json()
    assert payment["status"] == "pending"
    assert payment["provider"] == "stripe"
    return payment


def _buyer_chooses(redirect_url: str, button: str) -> httpx.Response:
    """Open the hosted page and press ``button`` (``pay`` or ``decline``), as a browser does."""
    with httpx.Client(timeout=10.0) as browser:
        page = browser.get(redirect_url)
        assert page.status_code == 200, page.text
        form = re.search(r'<form method="(\w+)"(?: action="([^"]*)")?>', page.text)
        assert form is not None, "the hosted page has no form"
        pressed = re.search(rf'<button id="{button}" name="(\w+)" value="(\w+)">', page.text)
        assert pressed is not None, f"the hosted page has no {button} button"
        target = httpx.URL(redirect_url).join(form.group(2) or "")
        return browser.request(
            form.group(1).upper(), target, data={pressed.group(1): pressed.group(2)}
        )


def _wait_for(paymux: Paymux, payment_id: str, status: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        body = paymux.client.get(f"/v1/payments/{payment_id}").json()
        if body["status"] == status:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"payment is {body['status']} after {timeout}s, not {status}")
        time.sleep(0.05)


def _fake_stripe_url(paymux: Paymux) -> str:
    provider = paymux.app.state.paymux.providers.get("stripe")
    assert isinstance(provider, StripeProvider)
    return provider.api_base


def test_a_payment_paid_on_the_fake_page_succeeds_by_webhook(paymux: Paymux) -> None:
    payment = _checkout(paymux, "sandbox-pay-1")
    fake_url = _fake_stripe_url(paymux)
    assert fake_url.startswith("http://127.0.0.1:")
    assert payment["redirect_url"].startswith(f"{fake_url}/pay/cs_test_")

    answer = _buyer_chooses(payment["redirect_url"], "pay")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith(paymux.url)  # paymux's status page

    paid = _wait_for(paymux, payment["id"], "succeeded")
    assert paid["provider"] == "stripe"
    wallet = paymux.client.get("/v1/wallets/seller-a").json()
    (balance,) = wallet["balances"]
    assert balance["currency"] == "USD"
    assert balance["pending"] == "30.00"  # fees are taken when the order ships
    assert balance["available"] == "0.00"


def test_a_payment_declined_on_the_fake_page_fails_by_webhook(paymux: Paymux) -> None:
    payment = _checkout(paymux, "sandbox-decline-1")
    answer = _buyer_chooses(payment["redirect_url"], "decline")
    assert answer.status_code == 303

    failed = _wait_for(paymux, payment["id"], "failed")
    assert {order["failure_code"] for order in failed["orders"]} == {"async-payment-failed"}
    wallet = paymux.client.get("/v1/wallets/seller-a").json()
    assert all(balance["pending"] in ("0", "0.00") for balance in wallet["balances"])


def test_the_fake_stops_with_the_app(database_url: str, tmp_path: Path) -> None:
    markets = tmp_path / "markets.toml"
    markets.write_text(MARKETS, "utf-8")
    sock = free_socket()
    settings = Settings(
        database_url=database_url,
        public_url=f"http://127.0.0.1:{sock.getsockname()[1]}",
        api_keys={API_KEY: "dev"},
        markets_file=markets,
    )
    app = create_app(settings)
    with serve_in_thread(app, sock):
        provider = app.state.paymux.providers.get("stripe")
        assert isinstance(provider, StripeProvider)
        fake_url = provider.api_base
        assert httpx.get(f"{fake_url}/pay/cs_test_unknown").status_code == 404
    port = httpx.URL(fake_url).port
    assert port is not None
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", port), timeout=1),
    ):
        pass


def _context(*, sandbox: bool, **config: object) -> ProviderContext:
    return ProviderContext(
        name="stripe",
        mode="sandbox",
        public_url="http://127.0.0.1:9",
        webhook_url="http://127.0.0.1:9/v1/webhooks/stripe",
        config={"api_key": "sk_test_sandbox", "webhook_secret": "whsec_sandbox", **config},
        sandbox=sandbox,
    )


async def test_without_the_sandbox_flag_nothing_is_started() -> None:
    provider = build_provider(_context(sandbox=False))
    assert isinstance(provider, StripeProvider)
    assert provider.api_base == "https://api.stripe.com"
    await provider.aclose()


async def test_an_explicit_api_base_wins_over_the_sandbox_flag() -> None:
    provider = build_provider(_context(sandbox=True, api_base="http://127.0.0.1:12111"))
    assert isinstance(provider, StripeProvider)
    assert provider.api_base == "http://127.0.0.1:12111"
    await provider.aclose()


async def test_aclose_stops_the_sandbox_fake_once() -> None:
    provider = build_provider(_context(sandbox=True))
    assert isinstance(provider, StripeProvider)
    page = f"{provider.api_base}/pay/cs_test_unknown"
    async with httpx.AsyncClient(timeout=1) as browser:
        assert (await browser.get(page)).status_code == 404
        await provider.aclose()
        await provider.aclose()  # idempotent
        with pytest.raises(httpx.ConnectError):
            await browser.get(page)
