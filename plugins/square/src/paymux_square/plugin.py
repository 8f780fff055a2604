"""The Square plugin's hook implementations (entry point ``paymux = square``)."""

from __future__ import annotations

from collections.abc import Sequence

from paymux.core.hookspecs import hookimpl
from paymux.core.ports.provider import PaymentProvider
from paymux.core.providers import ProviderContext, ProviderSpec
from paymux.core.reconciliation.parsers import SettlementParser
from paymux_square.config import SquareConfig
from paymux_square.fake_psp import FakeSquareServer
from paymux_square.provider import SquareProvider
from paymux_square.settlement import SETTLEMENT_PARSER


def build_provider(context: ProviderContext) -> PaymentProvider:
    """Build the Square provider from its section of the settings.

    In sandbox mode (``context.sandbox``, ``sandbox = true`` in the markets file) without an
    explicit ``base_url``, a fake Square is started on ``127.0.0.1`` and the provider talks
    to it; the fake delivers its webhooks to ``context.webhook_url``, signed with the
    configured ``webhook_signature_key`` over the notification URL the provider verifies.
    The provider's ``aclose()`` stops it.
    """
    config = SquareConfig.model_validate(dict(context.config))
    if not (context.sandbox and not config.base_url):
        return SquareProvider(
            config, mode=context.mode, webhook_url=context.webhook_url, name=context.name
        )
    server = start_sandbox_fake(config, webhook_url=context.webhook_url)
    try:
        return SquareProvider(
            config.model_copy(update={"base_url": server.base_url}),
            mode=context.mode,
            webhook_url=context.webhook_url,
            name=context.name,
            on_close=server.stop,
        )
    except BaseException:
        server.stop()
        raise


def start_sandbox_fake(config: SquareConfig, *, webhook_url: str) -> FakeSquareServer:
    """A running fake Square that delivers its webhooks to ``webhook_url``.

    The signature covers ``config.notification_url`` when set, else ``webhook_url``: the
    URL :class:`SquareProvider` verifies against."""
    return FakeSquareServer(
        webhook_url=webhook_url,
        webhook_signature_key=config.webhook_signature_key.get_secret_value(),
        notification_url=config.notification_url or webhook_url,
    ).start()


@hookimpl
def paymux_add_providers() -> Sequence[ProviderSpec]:
    """Offer the ``square`` provider."""
    return [ProviderSpec("square", build_provider, "Square Payment Links (cards)")]


@hookimpl
def paymux_add_settlement_parsers() -> Sequence[SettlementParser]:
    """Read Square's payouts and payout entries (a JSON document, see ``settlement``)."""
    return [SETTLEMENT_PARSER]
