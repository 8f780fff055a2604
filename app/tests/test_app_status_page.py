"""The buyer's status page and its signed links."""

from __future__ import annotations

from collections.abc import Sequence
from unittest.mock import patch

from fastapi.testclient import TestClient

from paymux.app import create_app
from paymux.app.status_links import StatusLinks
from paymux.core.domain.status import PaymentStatus
from paymux.core.hookspecs import hookimpl
from paymux.core.plugins import create_plugin_manager
from paymux.core.providers import ProviderSpec
from paymux.core.settings import Settings
from paymux_fakes import FakeProvider
from paymux_test_support import API_KEY, auth, make_settings, payment_body


def test_links_are_signed_per_payment_and_secret() -> None:
    links = StatusLinks(public_url="http://h/", secret="s1")
    url = links.url("pay_1")
    assert url.startswith("http://h/checkout/pay_1?sig=")
    assert links.verify("pay_1", url.split("sig=")[1])
    assert not links.verify("pay_2", url.split("sig=")[1])
    assert not StatusLinks(public_url="http://h", secret="s2").verify("pay_1", url.split("sig=")[1])


def test_status_page_needs_the_signature(sqlite_url: str) -> None:
    settings = make_settings(sqlite_url)
    with TestClient(create_app(settings)) as client:
        # The provider is unreachable at this public URL: the payment stays unknown.
        created = client.post(
            "/v1/payments", json=payment_body(), headers=auth(idempotency_key="s1")
        )
        assert created.status_code == 503
        payment_id = created.json()["payment_id"]
        good = StatusLinks(
            public_url=settings.public_url, secret=settings.secret_key.get_secret_value()
        ).url(payment_id)
        page = client.get(good.replace(settings.public_url, ""))
        assert page.status_code == 200
        assert 'data-status="unknown"' in page.text
        assert "€30.00" in page.text
        assert '<meta http-equiv="refresh"' in page.text
        forged = client.get(f"/checkout/{payment_id}?sig=00000000")
        assert forged.status_code == 404
        assert "€30.00" not in forged.text


class _FakePlugin:
    def __init__(self, provider: FakeProvider) -> None:
        self.provider = provider

    @hookimpl
    def paymux_add_providers(self) -> Sequence[ProviderSpec]:
        return [ProviderSpec("fake", lambda _context: self.provider)]


def test_the_buyers_return_asks_the_provider_once_in_a_while(sqlite_url: str) -> None:
    provider = FakeProvider()
    manager = create_plugin_manager(autoload=False, plugins=[_FakePlugin(provider)])
    settings = Settings(
        database_url=sqlite_url,
        api_keys={API_KEY: "dev"},
        providers={"fake": {}},
        embedded_worker="never",
    )
    with TestClient(create_app(settings, plugin_manager=manager)) as client:
        body = payment_body()
        created = client.post("/v1/payments", json=body, headers=auth(idempotency_key="b1"))
        assert created.status_code == 201, created.text
        page_url = created.json()["status_page_url"].replace(settings.public_url, "")
        waiting = client.get(page_url)
        assert 'data-status="pending"' in waiting.text
        assert "waiting for your payment" in waiting.text
        assert 'id="pay"' in waiting.text or "id='pay'" in waiting.text
        asked = len(provider.status_checks)
        assert asked == 1
        # the buyer paid; no webhook came; the buyer's return finds out (not on every refresh)
        provider.status = PaymentStatus.SUCCEEDED
        assert 'data-status="pending"' in client.get(page_url).text
        assert len(provider.status_checks) == asked
        with patch("paymux.app.routes.status_page.ASK_PROVIDER_EVERY_SECONDS", 0.0):
            paid = client.get(page_url)
        assert 'data-status="succeeded"' in paid.text
        shown = client.get(f"/v1/payments/{created.json()['id']}", headers=auth())
        assert shown.json()["pending"] is None
