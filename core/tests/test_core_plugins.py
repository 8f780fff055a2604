"""The plugin manager: entry points found, hook implementations validated."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from paymux.core.hookspecs import hookimpl
from paymux.core.plugins import (
    PluginError,
    build_provider_registry,
    collect_provider_specs,
    create_plugin_manager,
)
from paymux.core.providers import ProviderContext, ProviderSpec
from paymux_fakes import FakeProvider


class FakePlugin:
    @hookimpl
    def paymux_add_providers(self) -> Sequence[ProviderSpec]:
        return [ProviderSpec("fake", lambda context: FakeProvider())]


def test_autoload_finds_the_sandbox_through_its_entry_point() -> None:
    manager = create_plugin_manager()
    names = {name for name, _ in manager.list_name_plugin()}
    assert "sandbox" in names
    assert "sandbox" in collect_provider_specs(manager)


def test_without_autoload_only_given_plugins_are_registered() -> None:
    manager = create_plugin_manager(autoload=False, plugins=[FakePlugin()])
    assert set(collect_provider_specs(manager)) == {"fake"}


def test_an_unknown_hook_is_refused() -> None:
    class Typo:
        @hookimpl
        def paymux_add_provider(self) -> list[ProviderSpec]:
            return []

    with pytest.raises(PluginError, match="paymux_add_provider"):
        create_plugin_manager(autoload=False, plugins=[Typo()])


def test_a_wrong_argument_is_refused() -> None:
    class Wrong:
        @hookimpl
        def paymux_order_status_changed(self, change: object, extra: object) -> None:
            return None

    with pytest.raises(PluginError):
        create_plugin_manager(autoload=False, plugins=[Wrong()])


def test_two_plugins_offering_one_name_is_an_error() -> None:
    manager = create_plugin_manager(autoload=False, plugins=[FakePlugin(), FakePlugin()])
    with pytest.raises(PluginError, match="two plugins"):
        collect_provider_specs(manager)


def test_enabling_a_provider_nobody_offers_is_an_error() -> None:
    manager = create_plugin_manager(autoload=False, plugins=[FakePlugin()])
    with pytest.raises(PluginError, match="no plugin offers it"):
        build_provider_registry(
            manager, enabled={"stripe": {}}, mode="sandbox", public_url="http://x"
        )


def test_factories_get_their_config_and_webhook_url() -> None:
    seen: list[ProviderContext] = []

    class Recording:
        @hookimpl
        def paymux_add_providers(self) -> Sequence[ProviderSpec]:
            def build(context: ProviderContext) -> FakeProvider:
                seen.append(context)
                return FakeProvider()

            return [ProviderSpec("fake", build)]

    manager = create_plugin_manager(autoload=False, plugins=[Recording()])
    registry = build_provider_registry(
        manager, enabled={"fake": {"secret": "s"}}, mode="sandbox", public_url="http://h/p/"
    )
    assert registry.names() == ["fake"]
    assert seen[0].config == {"secret": "s"}
    assert seen[0].webhook_url == "http://h/p/v1/webhooks/fake"


def test_provider_names_are_checked() -> None:
    with pytest.raises(ValueError, match="provider name"):
        ProviderSpec("Bad Name", lambda context: FakeProvider())


def _offering(provider: FakeProvider) -> object:
    class Offering:
        @hookimpl
        def paymux_add_providers(self) -> Sequence[ProviderSpec]:
            return [ProviderSpec(provider.provider_name, lambda context: provider)]

    return Offering()


@pytest.mark.parametrize(
    ("currencies", "expected"),
    [
        (None, "does not list its currencies"),
        (frozenset(), "claims no currency"),
        (frozenset({"EUR", "eur"}), "claims currency 'eur', which is not an active ISO 4217 code"),
        (frozenset({"EUR", "XYZ"}), "claims currency 'XYZ', which is not an active ISO 4217 code"),
        (
            frozenset({"HRK"}),
            "claims currency 'HRK', which is not an active ISO 4217 code.*withdrawn",
        ),
        (
            frozenset({"XAU"}),
            "claims currency 'XAU', which is not an active ISO 4217 code.*no minor unit",
        ),
    ],
)
def test_a_provider_must_list_active_iso_currencies_at_start_up(
    currencies: frozenset[str] | None, expected: str
) -> None:
    provider = FakeProvider(provider_name="fake", currencies=currencies)  # type: ignore[arg-type]
    manager = create_plugin_manager(autoload=False, plugins=[_offering(provider)])
    with pytest.raises(PluginError, match=f"provider 'fake' {expected}"):
        build_provider_registry(
            manager, enabled={"fake": {}}, mode="sandbox", public_url="http://x"
        )


def test_every_wrong_currency_claim_is_named_at_once() -> None:
    provider = FakeProvider(provider_name="fake", currencies=frozenset({"EUR", "ABC", "usd"}))
    manager = create_plugin_manager(autoload=False, plugins=[_offering(provider)])
    with pytest.raises(PluginError) as raised:
        build_provider_registry(
            manager, enabled={"fake": {}}, mode="sandbox", public_url="http://x"
        )
    assert "'ABC'" in str(raised.value)
    assert "'usd'" in str(raised.value)
    assert "'EUR'" not in str(raised.value)


def test_the_installed_first_party_providers_claim_active_iso_currencies() -> None:
    manager = create_plugin_manager()
    registry = build_provider_registry(
        manager, enabled={"sandbox": {}}, mode="sandbox", public_url="http://x"
    )
    claimed = registry.get("sandbox").capabilities().currencies
    assert claimed is not None
    assert {"KWD", "CLP", "JPY", "EUR", "CLF"} <= claimed
    assert "HRK" not in claimed  # withdrawn
