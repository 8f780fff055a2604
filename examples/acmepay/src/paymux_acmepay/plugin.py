"""Hook implementations of the AcmePay plugin (entry point ``paymux = acmepay``)."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from paymux.core.hookspecs import hookimpl
from paymux.core.ports.provider import PaymentProvider
from paymux.core.providers import ProviderContext, ProviderSpec
from paymux_acmepay.provider import API_URL, AcmePayProvider


class AcmePayConfig(BaseModel):
    """``PAYMUX_PROVIDERS__ACMEPAY__<FIELD>``: validated, since env values arrive as strings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_key: str = Field(min_length=1)
    webhook_secret: str = Field(min_length=8)
    base_url: str = API_URL
    timeout_seconds: float = Field(default=10.0, gt=0)


def build(context: ProviderContext) -> PaymentProvider:
    """Called by paymux only when ``acmepay`` is enabled in the settings."""
    config = AcmePayConfig.model_validate(dict(context.config))
    return AcmePayProvider(
        api_key=config.api_key,
        webhook_secret=config.webhook_secret,
        webhook_url=context.webhook_url,
        base_url=config.base_url,
        timeout_seconds=config.timeout_seconds,
    )


@hookimpl
def paymux_add_providers() -> Sequence[ProviderSpec]:
    """Offer the ``acmepay`` provider."""
    return [ProviderSpec("acmepay", build, "AcmePay hosted checkout")]
