"""The plugin is found through its entry point and builds the provider from settings."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from paymux.core.plugins import create_plugin_manager
from paymux.core.ports.provider import PaymentProvider
from paymux.core.providers import ProviderContext
from paymux_stripe import plugin
from paymux_stripe.plugin import StripeModeError, build_provider


def context(mode: str, **config: object) -> ProviderContext:
    return ProviderContext(
        name="stripe",
        mode=mode,
        public_url="https://paymux.example",
        webhook_url="https://paymux.example/v1/webhooks/stripe",
        config={"webhook_secret": "whsec_test_123", **config},
    )


def test_the_entry_point_names_the_plugin_module() -> None:
    (point,) = [e for e in entry_points(group="paymux") if e.name == "stripe"]
    assert point.value == "paymux_stripe.plugin"


def test_the_hook_offers_stripe() -> None:
    manager = create_plugin_manager(autoload=False, plugins=[plugin])
    specs = [spec for specs in manager.hook.paymux_add_providers() for spec in specs]
    assert [spec.name for spec in specs] == ["stripe"]


async def test_build_provider_reads_its_settings() -> None:
    provider = build_provider(
        context("sandbox", api_key="sk_test_123456", request_timeout_seconds="3.5")
    )
    assert isinstance(provider, PaymentProvider)
    assert provider.name == "stripe"
    await provider.aclose()


@pytest.mark.parametrize(
    ("mode", "key"), [("sandbox", "sk_live_123456"), ("live", "sk_test_123456")]
)
def test_keys_must_match_the_mode(mode: str, key: str) -> None:
    with pytest.raises(StripeModeError):
        build_provider(context(mode, api_key=key))


def test_unknown_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="colour"):
        build_provider(context("sandbox", api_key="sk_test_123456", colour="red"))
