"""How a markets file and ``PAYMUX_PROVIDERS`` combine into the providers paymux builds.

With a markets file, the file decides which providers exist and which are enabled. Values set
in ``PAYMUX_PROVIDERS`` (JSON or ``PAYMUX_PROVIDERS__<NAME>__<FIELD>``) are laid over the
``config`` of a provider the file declares, key by key (the environment wins); naming a
provider the file does not declare is an error. The default ``{"sandbox": {}}`` of
``Settings.providers`` is ignored when a markets file is given.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from paymux.core.markets_config import MarketsConfig, MarketsConfigError, load_markets
from paymux.core.settings import Settings


@dataclass(frozen=True, slots=True)
class MarketsSetup:
    """A loaded markets file and the providers to build from it."""

    config: MarketsConfig
    providers: dict[str, dict[str, Any]]
    """Enabled provider -> its config (file, then environment overrides), in the file's order."""
    sandboxed: frozenset[str]
    """The enabled providers with ``sandbox = true``."""


def load_markets_setup(
    settings: Settings,
    *,
    offered: Collection[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> MarketsSetup:
    """Load ``settings.markets_file`` and merge ``settings.providers`` into it.

    Raises :class:`MarketsConfigError` with every problem (file, environment, plugins).
    """
    if settings.markets_file is None:
        raise ValueError("settings.markets_file is not set")
    loaded = load_markets(
        settings.markets_file, mode=settings.mode, environ=environ, offered=offered
    )
    config = loaded.config
    overrides = settings.providers if "providers" in settings.model_fields_set else {}
    undeclared = [name for name in overrides if name not in config.providers]
    if undeclared:
        raise MarketsConfigError(
            config.source,
            [
                f"PAYMUX_PROVIDERS sets provider {name!r}, which the markets file does not "
                "declare (declare it under [providers] in the file)"
                for name in undeclared
            ],
        )
    providers = {
        name: {**file_config, **overrides.get(name, {})}
        for name, file_config in loaded.provider_configs.items()
    }
    sandboxed = frozenset(entry.name for entry in config.enabled_providers() if entry.sandbox)
    return MarketsSetup(config, providers, sandboxed)
