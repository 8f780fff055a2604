"""paymux finds the AcmePay plugin, builds its provider and routes its webhooks."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from paymux.app import create_app
from paymux.core.plugins import collect_provider_specs, create_plugin_manager
from paymux.core.ports.provider import PaymentProvider
from paymux.core.settings import Settings
from paymux_acmepay import plugin


def test_the_installed_distribution_is_found_by_its_entry_point() -> None:
    assert "acmepay" in collect_provider_specs(create_plugin_manager())


def test_paymux_builds_the_provider(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'test.db'}",
        providers={"acmepay": {"api_key": "test", "webhook_secret": "whsec_test"}},
    )
    manager = create_plugin_manager(autoload=False, plugins=[plugin])
    app = create_app(settings, plugin_manager=manager)
    with TestClient(app) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        provider = app.state.paymux.providers.get("acmepay")
        assert isinstance(provider, PaymentProvider)
        forged = client.post("/v1/webhooks/acmepay", content=b"{}")
        assert forged.status_code == 400
