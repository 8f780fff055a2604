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
