"""The pytest plugin of paymux's provider conformance suite.

pytest loads it through the ``pytest11`` entry point of ``paymux-core`` (or with
``-p paymux.testing.pytest_plugin`` when plugin autoloading is off). It has no side effects:
it registers the ``paymux_conformance`` marker and a placeholder ``provider_harness`` fixture
that explains what to write when a plugin's tests have not defined their own. Importing it
imports nothing of paymux.
"""

from __future__ import annotations

from typing import NoReturn

import pytest

MARKER = "paymux_conformance"

_MISSING_HARNESS = """\
the paymux conformance suite needs a `provider_harness` fixture: define it in your test module
or conftest.py as an async fixture yielding your plugin's ProviderHarness, for example

    @pytest_asyncio.fixture
    async def provider_harness() -> AsyncIterator[ProviderHarness]:
        harness = MyHarness()
        yield harness
        await harness.aclose()

(see paymux.testing.harness.ProviderHarness and docs/plugins.md, "Conformance suite")"""


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker the conformance tests carry (``-m paymux_conformance``)."""
    config.addinivalue_line("markers", f"{MARKER}: a test of paymux's provider conformance suite")


@pytest.fixture
def provider_harness() -> NoReturn:
    """Placeholder that a plugin's own ``provider_harness`` fixture overrides."""
    pytest.fail(_MISSING_HARNESS, pytrace=False)
