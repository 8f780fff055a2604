"""Sandbox mode: ``sandbox = true`` in the markets file runs Adyen against its own fake.

A real paymux app is served over HTTP; the buyer pays (or is refused) on the fake's hosted
page, the fake delivers the signed ``AUTHORISATION`` notification to paymux, and the payment
and the seller's wallet follow; a refund is settled by the fake's ``REFUND`` notification.
Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import re
import threading
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
from paymux_adyen import plugin
from paymux_adyen.fake_psp import DEFAULT_HMAC_KEY
from paymux_adyen.provider import AdyenProvider
from paymux_test_support import (
    API_KEY,
    free_socket,
    payment_body,
    serve_in_thread,
    wait_for_status,
)

MARKETS = """
version = 1

[providers.adyen]
sandbox = true
[providers.adyen.config]
api_key = "sandbox-adyen-api-key"
merchant_account = "MarketplaceECOM"
hmac_key = "{hmac_key}"

[markets.eu]
countries = ["DE", "FR"]
[markets.eu.currencies.EUR]
methods.card = ["adyen"]
"""


@dataclass
class Sandbox:
    """paymux on a real port with the Adyen provider in sandbox mode."""

    url: str
    client: httpx.Client
    provider: AdyenProvider


@pytest.fixture
def sandbox(database_url: str, tmp_path: Path) -> Iterator[Sandbox]:
    markets = tmp_path / "markets.toml"
    markets.write_text(MARKETS.format(hmac_key=DEFAULT_HMAC_KEY))
    sock = free_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = Settings(
        database_url=database_url,
        public_url=url,
        api_keys={API_KEY: "dev"},
        markets_file=markets,
    )
    app = create_app(settings)
    provider = app.state.paymux.providers.get("adyen")
    assert isinstance(provider, AdyenProvider)
    with (
        serve_in_thread(app, sock),
        httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10.0
        ) as client,
    ):
        yield Sandbox(url, client, provider)
    # the app's lifespan closed the provider, which stopped its fake
    assert provider.base_url is not None
    with pytest.raises(httpx.TransportError):
        httpx.get(provider.base_url + "/links/none", timeout=2.0)


def _create_payment(sandbox: Sandbox, key: str) -> dict[str, object]:
    response = sandbox.client.post(
        "/v1/payments",
        json=payment_body(),
        headers={"Idempotency-Key": key},
    )
    assert response.status_code == 201, response.text
    payment: dict[str, object] = response.json()
    assert payment["provider"] == "adyen"
    return payment


def _click(redirect_url: str, button: str) -> httpx.Response:
    """The buyer opens the hosted page, clicks ``button`` (``paid`` or ``refused``) and
    follows the redirects back to paymux's status page."""
    with httpx.Client(timeout=10.0, follow_redirects=True) as browser:
        page = browser.get(redirect_url)
        assert page.status_code == 200
        form = re.search(r'<form method=post action="([^"]+)">', page.text)
        assert form is not None, page.text
        assert f"value={button}" in page.text
        return browser.post(httpx.URL(redirect_url).join(form.group(1)), data={"outcome": button})


def _wait_for_refund(sandbox: Sandbox, refund_id: str, status: str) -> dict[str, Any]:
    """Poll ``GET /v1/refunds/{id}`` until the refund reaches ``status``."""
    deadline = time.monotonic() + 5.0
    while True:
        body: dict[str, Any] = sandbox.client.get(f"/v1/refunds/{refund_id}").json()
        if body["status"] == status or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def _is_paymux_status_page(sandbox: Sandbox, page: httpx.Response) -> bool:
    return page.status_code == 200 and str(page.url).startswith(sandbox.url + "/checkout/")


def test_a_payment_on_the_fake_page_succeeds_and_credits_the_seller(sandbox: Sandbox) -> None:
    payment = _create_payment(sandbox, "sbx-adyen-pay")
    redirect_url = str(payment["redirect_url"])
    assert sandbox.provider.base_url is not None
    assert redirect_url.startswith(sandbox.provider.base_url + "/links/PL")

    assert _is_paymux_status_page(sandbox, _click(redirect_url, "paid"))

    done = wait_for_status(sandbox.client, str(payment["id"]), "succeeded", timeout=5.0)
    assert done["status"] == "succeeded"
    (balance,) = sandbox.client.get("/v1/wallets/seller-a").json()["balances"]
    assert balance["currency"] == "EUR"
    assert balance["pending"] == "30.00"  # the order, fees are taken when it is released
    assert balance["available"] == "0.00"
    # the notification reached the provider: it learned the payment's pspReference
    link_id = redirect_url.rsplit("/", 1)[1]
    assert sandbox.provider.payments.payment_of(link_id) is not None

    # so a refund is accepted by the fake (``received``: pending) and settled shortly after
    # by its REFUND notification
    refund = sandbox.client.post(
        f"/v1/payments/{payment['id']}/refunds",
        json={"amount": "10.00"},
        headers={"Idempotency-Key": "sbx-adyen-refund"},
    )
    assert refund.status_code == 201, refund.text
    assert refund.json()["status"] == "pending"
    settled = _wait_for_refund(sandbox, refund.json()["id"], "succeeded")
    assert settled["status"] == "succeeded", settled
    # the 10.00 came off the sellers' pending money, in proportion to their orders
    pending = {
        seller: sandbox.client.get(f"/v1/wallets/{seller}").json()["balances"][0]["pending"]
        for seller in ("seller-a", "seller-b")
    }
    assert pending == {"seller-a": "22.94", "seller-b": "9.56"}  # was 30.00 + 12.50


def test_a_refused_buyer_fails_the_payment(sandbox: Sandbox) -> None:
    payment = _create_payment(sandbox, "sbx-adyen-refuse")
    assert _is_paymux_status_page(sandbox, _click(str(payment["redirect_url"]), "refused"))

    failed = wait_for_status(sandbox.client, str(payment["id"]), "failed", timeout=5.0)
    assert failed["status"] == "failed"
    assert sandbox.client.get("/v1/wallets/seller-a").json()["balances"] == []
    # the fake expired the link, as paymux failed the payment (refused_attempt_is_final)
    page = httpx.get(str(payment["redirect_url"]), timeout=5.0)
    assert "<p id=status>expired</p>" in page.text


def test_sandbox_mode_starts_a_fake_and_aclose_stops_it_once() -> None:
    context = ProviderContext(
        name="adyen",
        mode="sandbox",
        public_url="http://127.0.0.1:9",
        webhook_url="http://127.0.0.1:9/v1/webhooks/adyen",
        config={"api_key": "x", "merchant_account": "Shop", "hmac_key": DEFAULT_HMAC_KEY},
        sandbox=True,
    )
    before = threading.active_count()
    provider = plugin.build_provider(context)
    assert isinstance(provider, AdyenProvider)
    assert provider.base_url is not None
    assert provider.base_url.startswith("http://127.0.0.1:")
    assert httpx.get(provider.base_url + "/links/none", timeout=2.0).status_code == 404

    asyncio.run(provider.aclose())
    asyncio.run(provider.aclose())  # idempotent
    with pytest.raises(httpx.TransportError):
        httpx.get(provider.base_url + "/links/none", timeout=2.0)
    assert threading.active_count() <= before


def test_an_explicit_base_url_wins_over_sandbox() -> None:
    context = ProviderContext(
        name="adyen",
        mode="sandbox",
        public_url="http://127.0.0.1:9",
        webhook_url="http://127.0.0.1:9/v1/webhooks/adyen",
        config={
            "api_key": "x",
            "merchant_account": "Shop",
            "hmac_key": DEFAULT_HMAC_KEY,
            "base_url": "http://127.0.0.1:1",
        },
        sandbox=True,
    )
    provider = plugin.build_provider(context)
    assert isinstance(provider, AdyenProvider)
    assert provider.base_url == "http://127.0.0.1:1"
