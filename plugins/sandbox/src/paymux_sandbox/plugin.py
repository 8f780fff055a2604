"""The sandbox plugin's hook implementations (entry point ``paymux = sandbox``)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from paymux.core.hookspecs import AsgiMount, hookimpl
from paymux.core.ports.provider import PaymentProvider
from paymux.core.providers import ProviderContext, ProviderSpec
from paymux.core.reconciliation.parsers import SettlementParser
from paymux.core.settings import Settings
from paymux_sandbox.config import SandboxConfig
from paymux_sandbox.provider import SandboxProvider
from paymux_sandbox.settlement import SandboxSettlementParser
from paymux_sandbox.simulator import SandboxPsp

MOUNT_PATH = "/sandbox-psp"


def build_provider(context: ProviderContext) -> PaymentProvider:
    """Build the sandbox provider from its section of the settings."""
    config = SandboxConfig.model_validate(dict(context.config))
    return SandboxProvider(
        config,
        base_url=config.base_url or f"{context.public_url}{MOUNT_PATH}",
        webhook_url=context.webhook_url,
    )


@hookimpl
def paymux_add_providers() -> Sequence[ProviderSpec]:
    """Offer the ``sandbox`` provider."""
    return [ProviderSpec("sandbox", build_provider, "simulated PSP for tests and development")]


@hookimpl
def paymux_add_settlement_parsers() -> Sequence[SettlementParser]:
    """Read the sandbox PSP's own settlement files ("paymux sandbox settlement v1")."""
    return [SandboxSettlementParser()]


@hookimpl
def paymux_asgi_mounts(settings: Settings) -> Sequence[AsgiMount]:
    """Serve the PSP simulator at ``/sandbox-psp`` in sandbox mode with the sandbox enabled."""
    if settings.mode != "sandbox" or "sandbox" not in settings.providers:
        return []
    config = SandboxConfig.model_validate(settings.providers["sandbox"])
    if config.base_url is not None:  # the simulator runs elsewhere
        return []
    if not config.fx_rates and settings.fx.fixed_rates:  # settle at paymux's own fixed rates
        config = config.model_copy(
            update={
                "fx_rates": {pair: Decimal(rate) for pair, rate in settings.fx.fixed_rates.items()}
            }
        )
    psp = SandboxPsp(config, public_base=f"{settings.public_url}{MOUNT_PATH}")
    return [AsgiMount(MOUNT_PATH, psp.asgi(), "sandbox-psp", aclose=psp.aclose)]
