"""The Stripe plugin's hook implementations (entry point ``paymux = stripe``)."""

from __future__ import annotations

from collections.abc import Sequence

from paymux.core.hookspecs import hookimpl
from paymux.core.ports.provider import PaymentProvider
from paymux.core.providers import ProviderContext, ProviderSpec
from paymux_stripe.config import StripeConfig
from paymux_stripe.provider import StripeProvider


class StripeModeError(ValueError):
    """A test key in live mode, or a live key in sandbox mode."""


def build_provider(context: ProviderContext) -> PaymentProvider:
    """Build the Stripe provider from its section of the settings.

    Refuses a live key (``sk_live_``/``rk_live_``) in sandbox mode and a test key in live mode.
    """
    config = StripeConfig.model_validate(dict(context.config))
    live_key = config.api_key.startswith(("sk_live_", "rk_live_"))
    if context.mode == "sandbox" and live_key:
        raise StripeModeError("a live Stripe key must not be used in sandbox mode")
    if context.mode == "live" and not live_key:
        raise StripeModeError("live mode needs a live Stripe key (sk_live_... or rk_live_...)")
    return StripeProvider(config, name=context.name)


@hookimpl
def paymux_add_providers() -> Sequence[ProviderSpec]:
    """Offer the ``stripe`` provider."""
    return [ProviderSpec("stripe", build_provider, "Stripe Checkout, refunds, Connect payouts")]
