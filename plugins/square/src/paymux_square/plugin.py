"""The Square plugin's hook implementations (entry point ``paymux = square``)."""

from __future__ import annotations

from collections.abc import Sequence

from paymux.core.hookspecs import hookimpl
from paymux.core.ports.provider import PaymentProvider
from paymux.core.providers import ProviderContext, ProviderSpec
from paymux_square.config import SquareConfig
from paymux_square.provider import SquareProvider


def build_provider(context: ProviderContext) -> PaymentProvider:
    """Build the Square provider from its section of the settings."""
    config = SquareConfig.model_validate(dict(context.config))
    return SquareProvider(
        config, mode=context.mode, webhook_url=context.webhook_url, name=context.name
    )


@hookimpl
def paymux_add_providers() -> Sequence[ProviderSpec]:
    """Offer the ``square`` provider."""
    return [ProviderSpec("square", build_provider, "Square Payment Links (cards)")]
