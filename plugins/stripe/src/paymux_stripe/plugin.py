"""The Stripe plugin's hook implementations (entry point ``paymux = stripe``)."""

from __future__ import annotations

from collections.abc import Sequence

from paymux.core.hookspecs import hookimpl
from paymux.core.ports.provider import PaymentProvider
from paymux.core.providers import ProviderContext, ProviderSpec
from paymux.core.reconciliation.parsers import SettlementParser
from paymux_stripe.config import StripeConfig
from paymux_stripe.fake_stripe import FakeStripe, FakeStripeServer
from paymux_stripe.provider import StripeProvider
from paymux_stripe.settlement import SETTLEMENT_PARSERS


class StripeModeError(ValueError):
    """A test key in live mode, or a live key in sandbox mode."""


def build_provider(context: ProviderContext) -> PaymentProvider:
    """Build the Stripe provider from its section of the settings.

    Refuses a live key (``sk_live_``/``rk_live_``) in sandbox mode and a test key in live mode.
    With ``context.sandbox`` (``sandbox = true`` in the markets file) and no ``api_base``, it
    starts a fake Stripe on 127.0.0.1 (:func:`start_sandbox_stripe`) and talks to it; the
    provider's ``aclose()`` stops it.
    """
    config = StripeConfig.model_validate(dict(context.config))
    live_key = config.api_key.startswith(("sk_live_", "rk_live_"))
    if context.mode == "sandbox" and live_key:
        raise StripeModeError("a live Stripe key must not be used in sandbox mode")
    if context.mode == "live" and not live_key:
        raise StripeModeError("live mode needs a live Stripe key (sk_live_... or rk_live_...)")
    if context.sandbox and context.mode != "live" and config.api_base is None:
        server = start_sandbox_stripe(config, webhook_url=context.webhook_url)
        try:
            sandboxed = config.model_copy(update={"api_base": server.url})
            return StripeProvider(sandboxed, name=context.name, on_close=server.stop)
        except BaseException:
            server.stop()
            raise
    return StripeProvider(config, name=context.name)


def start_sandbox_stripe(config: StripeConfig, *, webhook_url: str) -> FakeStripeServer:
    """A fake Stripe served on 127.0.0.1 (a port the OS picks) for sandbox mode.

    It accepts ``config.api_key``, and delivers the events of checkouts paid or declined on its
    hosted page to ``webhook_url``, signed with ``config.webhook_secret``.
    """
    fake = FakeStripe(
        api_key=config.api_key,
        webhook_secret=config.webhook_secret,
        webhook_url=webhook_url,
    )
    return FakeStripeServer(fake).start()


@hookimpl
def paymux_add_providers() -> Sequence[ProviderSpec]:
    """Offer the ``stripe`` provider."""
    return [ProviderSpec("stripe", build_provider, "Stripe Checkout, refunds, Connect payouts")]


@hookimpl
def paymux_add_settlement_parsers() -> Sequence[SettlementParser]:
    """Read Stripe's itemized balance and payout reconciliation reports."""
    return list(SETTLEMENT_PARSERS)
