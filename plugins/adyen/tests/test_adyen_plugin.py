"""The plugin's entry point, settings and factory."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
from pydantic import ValidationError

from paymux.core.providers import ProviderContext
from paymux_adyen import plugin
from paymux_adyen.config import AdyenConfig
from paymux_adyen.fake_psp import DEFAULT_HMAC_KEY
from paymux_adyen.provider import AdyenProvider

SETTINGS = {"api_key": "AQE_x", "merchant_account": "Shop", "hmac_key": DEFAULT_HMAC_KEY}


def context(mode: str = "sandbox", **config: str) -> ProviderContext:
    return ProviderContext(
        name="adyen",
        mode=mode,
        public_url="https://paymux.example",
        webhook_url="https://paymux.example/v1/webhooks/adyen",
        config={**SETTINGS, **config},
    )


def test_the_entry_point_offers_adyen() -> None:
    (point,) = [p for p in entry_points(group="paymux") if p.name == "adyen"]
    assert point.value == "paymux_adyen.plugin"
    (spec,) = plugin.paymux_add_providers()
    assert spec.name == "adyen"


def test_the_factory_builds_a_provider_in_sandbox_mode() -> None:
    provider = plugin.build_provider(context())
    assert isinstance(provider, AdyenProvider)
    assert provider.name == "adyen"


def test_test_credentials_are_refused_in_live_mode_and_vice_versa() -> None:
    with pytest.raises(ValueError, match="live mode"):
        plugin.build_provider(context("live"))
    with pytest.raises(ValueError, match="sandbox mode"):
        plugin.build_provider(context(environment="live", live_endpoint_prefix="1797a8-Shop"))
    live = plugin.build_provider(
        context("live", environment="live", live_endpoint_prefix="1797a8-Shop")
    )
    assert isinstance(live, AdyenProvider)


@pytest.mark.parametrize(
    "bad",
    [
        {"hmac_key": "not-hex"},
        {"environment": "live"},  # no live_endpoint_prefix
        {"environment": "live", "live_endpoint_prefix": "p", "base_url": "http://127.0.0.1:1"},
        {"api_key": ""},
        {"unknown": "x"},
    ],
)
def test_bad_settings_are_refused(bad: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        AdyenConfig.model_validate({**SETTINGS, **bad})


def test_settings_from_the_environment_arrive_as_strings() -> None:
    config = AdyenConfig.model_validate(
        {**SETTINGS, "request_timeout_seconds": "3.5", "refused_attempt_is_final": "false"}
    )
    assert config.request_timeout_seconds == 3.5
    assert config.refused_attempt_is_final is False
    assert config.transfers_api_key == "AQE_x"
