"""The bank-transfer plugin's hook implementations (entry point ``paymux = bank_transfer``)."""

from __future__ import annotations

from collections.abc import Sequence

from paymux.core.hookspecs import AsgiMount, hookimpl
from paymux.core.ports.provider import PaymentProvider
from paymux.core.providers import ProviderContext, ProviderSpec, split_settlement_currency
from paymux.core.reconciliation.parsers import SettlementParser
from paymux.core.settings import Settings
from paymux_bank_transfer.config import BankTransferConfig
from paymux_bank_transfer.page import instruction_app
from paymux_bank_transfer.provider import BankTransferProvider
from paymux_bank_transfer.settlement import Camt053SettlementParser

NAME = "bank_transfer"
MOUNT_PATH = "/bank-transfer"


def build_provider(context: ProviderContext) -> PaymentProvider:
    """Build the provider from its section of the settings (IBAN and BIC validated here)."""
    config = BankTransferConfig.model_validate(dict(context.config))
    if context.mode == "live":
        config.check_live()
    return BankTransferProvider(
        config, page_base_url=config.page_base_url or f"{context.public_url}{MOUNT_PATH}"
    )


@hookimpl
def paymux_add_providers() -> Sequence[ProviderSpec]:
    """Offer the ``bank_transfer`` provider."""
    return [ProviderSpec(NAME, build_provider, "SEPA bank transfer with RF references")]


@hookimpl
def paymux_asgi_mounts(settings: Settings) -> Sequence[AsgiMount]:
    """Serve the instruction pages at ``/bank-transfer`` whenever the provider is enabled
    (they are the hosted checkout, in live mode too), with the bank simulation in sandbox."""
    if NAME not in settings.providers:
        return []
    # settlement_currency is paymux's own key, not the plugin's
    _settles_in, own = split_settlement_currency(NAME, settings.providers[NAME])
    config = BankTransferConfig.model_validate(own)
    if config.page_base_url is not None:  # the pages are served elsewhere
        return []
    sandbox = settings.mode == "sandbox"
    if not sandbox:
        config.check_live()
    provider = BankTransferProvider(config, page_base_url=f"{settings.public_url}{MOUNT_PATH}")
    app = instruction_app(
        provider,
        sandbox=sandbox,
        webhook_url=f"{settings.public_url}/v1/webhooks/{NAME}" if sandbox else None,
    )
    return [AsgiMount(MOUNT_PATH, app, "bank-transfer-pages", aclose=provider.aclose)]


@hookimpl
def paymux_cli_commands(cli: object) -> None:
    """Add ``paymux bank-transfer export|show|import`` (see :mod:`paymux_bank_transfer.cli`)."""
    import typer

    from paymux_bank_transfer.cli import create_commands

    if not isinstance(cli, typer.Typer):
        raise TypeError(f"paymux_cli_commands expects a typer.Typer, not {type(cli).__name__}")
    cli.add_typer(create_commands(), name="bank-transfer")


@hookimpl
def paymux_add_settlement_parsers() -> Sequence[SettlementParser]:
    """Read camt.053 statements (see :mod:`paymux_bank_transfer.settlement`)."""
    return [Camt053SettlementParser()]
