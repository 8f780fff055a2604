"""The Adyen plugin against paymux's provider conformance suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from paymux.testing.conformance import ProviderConformance
from paymux.testing.harness import ProviderHarness
from paymux_adyen.harness import AdyenHarness


@pytest.fixture
def provider_harness() -> Iterator[ProviderHarness]:
    with AdyenHarness() as harness:
        yield harness


class TestConformance(ProviderConformance):
    pass
