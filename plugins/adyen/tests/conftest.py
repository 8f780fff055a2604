"""Fixtures of the Adyen plugin's tests: spec validators and a harness per test.

Every request the provider sends is validated against Adyen's official OpenAPI specs
(:mod:`paymux_adyen.spec_validation`); a request that does not validate fails the test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from paymux_adyen.harness import AdyenHarness
from paymux_adyen.spec_validation import AdyenSpecs


@pytest.fixture(scope="session")
def adyen_specs() -> AdyenSpecs:
    """The specs, loaded once per session."""
    return AdyenSpecs()


@pytest.fixture
def harness(adyen_specs: AdyenSpecs) -> Iterator[AdyenHarness]:
    """A fresh fake Adyen validating every request, and the provider wired to it.

    Fails the test if any request did not validate against Adyen's specs.
    """
    with AdyenHarness(validator=adyen_specs.request_errors) as wired:
        yield wired
        assert wired.fake.validation_errors == []
