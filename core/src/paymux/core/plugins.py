"""The plugin manager factory."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from types import ModuleType

import pluggy

from paymux.core import hookspecs
from paymux.core.fx.rates import RateSource
from paymux.core.ledger import default_plugin
from paymux.core.notifications import BuyerNotifier
from paymux.core.providers import (
    ProviderContext,
    ProviderRegistry,
    ProviderSpec,
    capability_problems,
    split_settlement_currency,
)
from paymux.core.reconciliation.alerts import ReconciliationAlerter
from paymux.core.reconciliation.parsers import SettlementParser
from paymux.core.settings import Settings

ENTRY_POINT_GROUP = "paymux"


class PluginError(Exception):
    """A plugin could not be loaded or does not fit the hook specifications."""


def create_plugin_manager(
    *,
    autoload: bool = True,
    plugins: Iterable[object] = (),
    extra_specs: Iterable[ModuleType | type] = (),
) -> pluggy.PluginManager:
    """Build a plugin manager with paymux's hook specifications.

    ``autoload`` loads every plugin of the ``paymux`` entry-point group (as installed packages
    declare them); pass ``False`` to register only ``plugins``. ``extra_specs`` adds hook
    specification modules (the app adds its own). Every hook implementation is checked against
    the specifications: an unknown hook name or a wrong argument raises :class:`PluginError`.
    paymux's default posting rules are always registered (they answer last).
    """
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    manager.register(default_plugin, name="paymux.ledger.defaults")
    for spec in extra_specs:
        manager.add_hookspecs(spec)
    if autoload:
        try:
            manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        except Exception as error:
            raise PluginError(
                f"loading the {ENTRY_POINT_GROUP!r} entry points failed: {error}"
            ) from error
    try:
        for plugin in plugins:
            if not manager.is_registered(plugin):
                manager.register(plugin)
        manager.check_pending()
    except pluggy.PluginValidationError as error:
        raise PluginError(str(error)) from error
    return manager


def collect_provider_specs(manager: pluggy.PluginManager) -> dict[str, ProviderSpec]:
    """Every provider offered by the registered plugins, by name (duplicates are an error)."""
    specs: dict[str, ProviderSpec] = {}
    for offered in manager.hook.paymux_add_providers():
        for spec in offered:
            if not isinstance(spec, ProviderSpec):
                raise PluginError(f"paymux_add_providers returned {spec!r}, not a ProviderSpec")
            if spec.name in specs:
                raise PluginError(f"two plugins offer a provider called {spec.name!r}")
            specs[spec.name] = spec
    return specs


def build_provider_registry(
    manager: pluggy.PluginManager,
    *,
    enabled: dict[str, dict[str, object]],
    mode: str,
    public_url: str,
    sandboxed: Collection[str] = (),
) -> ProviderRegistry:
    """Build the providers named in ``enabled`` (name -> config) from the plugins' specs.

    The providers named in ``sandboxed`` get ``ProviderContext.sandbox = True``. A provider
    whose capabilities do not list its currencies as active ISO 4217 codes is refused
    (:class:`PluginError` naming every wrong claim; see
    :func:`~paymux.core.providers.capability_problems`).
    """
    specs = collect_provider_specs(manager)
    providers = []
    for name, config in enabled.items():
        if name not in specs:
            known = ", ".join(sorted(specs)) or "none"
            raise PluginError(
                f"provider {name!r} is enabled but no plugin offers it (offered: {known})"
            )
        base = public_url.rstrip("/")
        try:  # paymux's own key; the plugin's configuration model never sees it
            _settles_in, own_config = split_settlement_currency(name, config)
        except ValueError as error:
            raise PluginError(str(error)) from None
        context = ProviderContext(
            name=name,
            mode=mode,
            public_url=base,
            webhook_url=f"{base}/v1/webhooks/{name}",
            config=own_config,
            sandbox=name in sandboxed,
        )
        try:
            provider = specs[name].build(context)
        except ValueError as error:  # the plugin refused its config (pydantic's errors too)
            raise PluginError(f"providers.{name}.config: {error}") from error
        if provider.name != name:
            raise PluginError(f"provider spec {name!r} built a provider called {provider.name!r}")
        problems = capability_problems(name, provider.capabilities())
        if problems:
            raise PluginError("; ".join(problems))
        providers.append(provider)
    return ProviderRegistry(providers)


def collect_notifiers(manager: pluggy.PluginManager, settings: Settings) -> list[BuyerNotifier]:
    """Every buyer notifier the plugins offer for ``settings`` (two with one name: an error)."""
    notifiers: list[BuyerNotifier] = []
    for offered in manager.hook.paymux_add_notifiers(settings=settings):
        for notifier in offered:
            if any(known.name == notifier.name for known in notifiers):
                raise PluginError(f"two plugins offer a buyer notifier named {notifier.name!r}")
            notifiers.append(notifier)
    return notifiers


def collect_settlement_parsers(manager: pluggy.PluginManager) -> list[SettlementParser]:
    """Every settlement parser the plugins offer (two with one provider and format: an error)."""
    parsers: list[SettlementParser] = []
    for offered in manager.hook.paymux_add_settlement_parsers():
        for parser in offered:
            if any((p.provider, p.format) == (parser.provider, parser.format) for p in parsers):
                raise PluginError(
                    f"two plugins offer the settlement format {parser.format!r} of "
                    f"{parser.provider!r}"
                )
            parsers.append(parser)
    return parsers


def collect_alerters(
    manager: pluggy.PluginManager, settings: Settings
) -> list[ReconciliationAlerter]:
    """Every reconciliation alerter the plugins offer (two with one name: an error)."""
    alerters: list[ReconciliationAlerter] = []
    for offered in manager.hook.paymux_add_reconciliation_alerters(settings=settings):
        for alerter in offered:
            if any(known.name == alerter.name for known in alerters):
                raise PluginError(f"two plugins offer an alerter named {alerter.name!r}")
            alerters.append(alerter)
    return alerters


def collect_rate_sources(manager: pluggy.PluginManager, settings: Settings) -> list[RateSource]:
    """Every rate source the plugins offer for ``settings`` (two with one name: an error)."""
    sources: list[RateSource] = []
    for offered in manager.hook.paymux_add_rate_sources(settings=settings):
        for source in offered:
            if not isinstance(source, RateSource):
                raise PluginError(f"paymux_add_rate_sources returned {source!r}, not a RateSource")
            if any(known.name == source.name for known in sources):
                raise PluginError(f"two plugins offer a rate source named {source.name!r}")
            sources.append(source)
    return sources
