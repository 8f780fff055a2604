"""Provider specs, the registry of built providers, and routing of checkouts to them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from paymux.core.domain.errors import NoProviderError, UnknownProviderError
from paymux.core.ports.provider import PaymentProvider, ProviderCapabilities
from paymux.currencies import MoneyError, get_active_currency

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")

SETTLEMENT_CURRENCY = "settlement_currency"
"""The key of a provider's configuration that names the currency its account settles in
(read by paymux, not passed to the provider's own configuration)."""


def split_settlement_currency(
    name: str, config: Mapping[str, Any]
) -> tuple[str | None, dict[str, Any]]:
    """A provider configuration's ``settlement_currency`` (``None`` if absent: payments
    settle in their own currency) and the rest of the configuration, for the plugin.

    Raises ``ValueError`` when it is not an active ISO 4217 code."""
    rest = {key: value for key, value in config.items() if key != SETTLEMENT_CURRENCY}
    code = config.get(SETTLEMENT_CURRENCY)
    if code is None:
        return None, rest
    if not isinstance(code, str):
        raise ValueError(f"providers.{name}.settlement_currency must be a currency code")
    try:
        get_active_currency(code)
    except MoneyError as error:
        raise ValueError(f"providers.{name}.settlement_currency: {error}") from None
    return code, rest


def settlement_currencies(providers: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Provider name -> the currency its account settles in, for the providers that set
    ``settlement_currency`` (see :func:`split_settlement_currency`)."""
    found: dict[str, str] = {}
    for name, config in providers.items():
        code, _rest = split_settlement_currency(name, config)
        if code is not None:
            found[name] = code
    return found


@dataclass(frozen=True, slots=True)
class ProviderContext:
    """What a provider factory receives when paymux builds it."""

    name: str
    mode: str
    """``"sandbox"`` or ``"live"``."""
    public_url: str
    """The public base URL of this paymux instance, without a trailing slash."""
    webhook_url: str
    """Where this provider's webhooks must be sent."""
    config: Mapping[str, Any] = field(default_factory=dict)
    """The provider's own section of the settings (``PAYMUX_PROVIDERS__<NAME>__...``, or its
    ``config`` table in the markets file, environment references resolved)."""
    sandbox: bool = False
    """``sandbox = true`` in the markets file: point at the sandbox simulator or the plugin's
    fake PSP server, never the network. Always ``False`` in live mode."""


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """A provider a plugin offers: its name and how to build it."""

    name: str
    build: Callable[[ProviderContext], PaymentProvider]
    description: str = ""

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(
                f"provider name {self.name!r} must be lower-case letters, digits and '_', "
                "starting with a letter (at most 32 characters)"
            )


def capability_problems(name: str, capabilities: ProviderCapabilities) -> list[str]:
    """What is wrong with a provider's claimed currencies, one sentence each (none: ``[]``).

    A provider must list the currencies it supports explicitly, as active ISO 4217 codes:
    ``None`` ("every currency") is refused, and so are an empty list, lower-case or unknown
    codes, codes without a minor unit (``XAU``) and withdrawn ones (``HRK``). paymux checks
    this when it builds the providers, so a wrong claim stops the start-up instead of
    routing a payment to a provider that cannot encode it.
    """
    currencies = capabilities.currencies
    if currencies is None:
        return [
            f"provider {name!r} does not list its currencies (capabilities().currencies is "
            "None): list the ISO 4217 codes it supports explicitly (every active one: "
            "frozenset(c.code for c in paymux.currencies.active_currencies()))"
        ]
    if not currencies:
        return [f"provider {name!r} claims no currency: an empty list serves nobody"]
    problems: list[str] = []
    for code in sorted(currencies, key=str):
        try:
            get_active_currency(code)
        except MoneyError as error:
            problems.append(
                f"provider {name!r} claims currency {code!r}, which is not an active "
                f"ISO 4217 code: {error}"
            )
    return problems


class ProviderRegistry:
    """The providers enabled in this application, by name."""

    def __init__(self, providers: Iterable[PaymentProvider]) -> None:
        self._providers: dict[str, PaymentProvider] = {}
        for provider in providers:
            if provider.name in self._providers:
                raise ValueError(f"provider {provider.name!r} is enabled twice")
            self._providers[provider.name] = provider

    def __contains__(self, name: object) -> bool:
        return name in self._providers

    def names(self) -> list[str]:
        """Enabled provider names, in the order they were enabled."""
        return list(self._providers)

    def get(self, name: str) -> PaymentProvider:
        """The provider called ``name``; :class:`UnknownProviderError` if not enabled."""
        try:
            return self._providers[name]
        except KeyError:
            raise UnknownProviderError(f"provider {name!r} is not enabled") from None

    def choose(self, *, country: str, currency: str, method: str) -> PaymentProvider:
        """The first enabled provider that serves this country, currency and method."""
        for provider in self._providers.values():
            if provider.capabilities().serves(country=country, currency=currency, method=method):
                return provider
        raise NoProviderError(
            f"no enabled provider accepts {method} payments in {currency} from {country}"
        )

    async def aclose(self) -> None:
        """Close every provider."""
        for provider in self._providers.values():
            await provider.aclose()
