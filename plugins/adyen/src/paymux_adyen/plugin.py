"""The Adyen plugin's hook implementations (entry point ``paymux = adyen``)."""

from __future__ import annotations

from collections.abc import Sequence

from paymux.core.hookspecs import hookimpl
from paymux.core.ports.provider import PaymentProvider
from paymux.core.providers import ProviderContext, ProviderSpec
from paymux_adyen.config import AdyenConfig
from paymux_adyen.provider import AdyenProvider


def build_provider(context: ProviderContext) -> PaymentProvider:
    """Build the Adyen provider from its section of the settings.

    Refuses Adyen's test platform in paymux's live mode and the live platform in sandbox.
    """
    config = AdyenConfig.model_validate(dict(context.config))
    expected = "live" if context.mode == "live" else "test"
    if config.environment != expected:
        raise ValueError(
            f"paymux runs in {context.mode} mode but the Adyen provider {context.name!r} is "
            f"configured for Adyen's {config.environment} platform"
        )
    return AdyenProvider(config, name=context.name)


@hookimpl
def paymux_add_providers() -> Sequence[ProviderSpec]:
    """Offer the ``adyen`` provider."""
    return [ProviderSpec("adyen", build_provider, "Adyen payment links, refunds and transfers")]
