"""The Adyen plugin's hook implementations (entry point ``paymux = adyen``)."""

from __future__ import annotations

from collections.abc import Sequence

from paymux.core.hookspecs import hookimpl
from paymux.core.ports.provider import PaymentProvider
from paymux.core.providers import ProviderContext, ProviderSpec
from paymux.core.reconciliation.parsers import SettlementParser
from paymux_adyen.config import AdyenConfig
from paymux_adyen.fake_psp import DEFAULT_PLATFORM_HMAC_KEY, PLATFORM_BALANCE_ACCOUNT, FakeAdyen
from paymux_adyen.provider import AdyenProvider
from paymux_adyen.settlement import AdyenSettlementParser


def build_provider(context: ProviderContext) -> PaymentProvider:
    """Build the Adyen provider from its section of the settings.

    Refuses Adyen's test platform in paymux's live mode and the live platform in sandbox.
    With ``context.sandbox`` and no ``base_url``, the provider talks to a fake Adyen of its
    own (see :func:`build_sandbox_provider`).
    """
    config = AdyenConfig.model_validate(dict(context.config))
    expected = "live" if context.mode == "live" else "test"
    if config.environment != expected:
        raise ValueError(
            f"paymux runs in {context.mode} mode but the Adyen provider {context.name!r} is "
            f"configured for Adyen's {config.environment} platform"
        )
    if context.sandbox and config.base_url is None:
        return build_sandbox_provider(config, context)
    return AdyenProvider(config, name=context.name)


def build_sandbox_provider(config: AdyenConfig, context: ProviderContext) -> AdyenProvider:
    """The provider pointed at a fake Adyen started for it on 127.0.0.1 (ephemeral port).

    The fake signs notifications with the configured ``hmac_key`` for the configured
    merchant account and delivers them to ``context.webhook_url`` when the buyer pays or is
    refused on its hosted page, and shortly after each refund (a successful ``REFUND``).
    It serves reports to the configured report credentials (see
    :meth:`~paymux_adyen.fake_psp.FakeAdyen.publish_report`). The provider's ``aclose``
    stops it.
    """
    fake = FakeAdyen(
        merchant_account=config.merchant_account,
        hmac_key=config.hmac_key,
        platform_hmac_key=config.balance_platform_hmac_key or DEFAULT_PLATFORM_HMAC_KEY,
        platform_balance_account=config.platform_balance_account_id or PLATFORM_BALANCE_ACCOUNT,
        webhook_url=context.webhook_url,
        refused_attempt_is_final=config.refused_attempt_is_final,
        report_username=config.report_username,
        report_password=config.report_password,
        report_api_key=config.report_api_key or config.api_key,
    ).start()
    try:
        wired = config.model_copy(
            update={"base_url": fake.base_url, "report_download_base_url": None}
        )
        return AdyenProvider(wired, name=context.name, on_close=fake.stop)
    except BaseException:
        fake.stop()
        raise


@hookimpl
def paymux_add_providers() -> Sequence[ProviderSpec]:
    """Offer the ``adyen`` provider."""
    return [ProviderSpec("adyen", build_provider, "Adyen payment links, refunds and transfers")]


@hookimpl
def paymux_add_settlement_parsers() -> Sequence[SettlementParser]:
    """Read Adyen's Settlement details report (see :mod:`paymux_adyen.settlement`)."""
    return [AdyenSettlementParser()]
