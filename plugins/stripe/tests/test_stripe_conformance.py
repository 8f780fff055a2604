"""The Stripe plugin against paymux's provider conformance suite."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from paymux.testing.conformance import ProviderConformance
from paymux.testing.harness import ProviderHarness
from paymux_stripe.harness import StripeHarness


@pytest_asyncio.fixture
async def provider_harness() -> AsyncIterator[ProviderHarness]:
    harness = StripeHarness.start()
    yield harness
    await harness.aclose()


class TestConformance(ProviderConformance):
    pass
