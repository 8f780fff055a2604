"""StripeHarness satisfies paymux's ProviderHarness, as the conformance suite drives it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import CheckoutRequest, ProviderEvent, ProviderTimeoutError
from paymux.currencies import Money
from paymux.testing.harness import ProviderHarness
from paymux_stripe.harness import StripeHarness, find_specs_dir

SPECS = find_specs_dir(Path(__file__).parent)


@pytest.fixture
async def harness() -> AsyncIterator[ProviderHarness]:
    started = StripeHarness.start(specs_dir=SPECS, require_spec=True)
    typed: ProviderHarness = started  # mypy checks the protocol here
    yield typed
    await started.aclose()


def request(amount: Money) -> CheckoutRequest:
    return CheckoutRequest(
        payment_id="pay_h",
        amount=amount,
        country="DE",
        payment_method="card",
        buyer_id="buyer",
        order_references=("order",),
        return_url="https://paymux.example/status/pay_h",
    )


@pytest.mark.parametrize("outcome", [PaymentStatus.SUCCEEDED, PaymentStatus.FAILED])
async def test_a_checkout_reaches_its_outcome(
    harness: ProviderHarness, outcome: PaymentStatus
) -> None:
    registration = await harness.provider.register_checkout(
        request(Money(4200, "EUR")), idempotency_key="k"
    )
    await harness.complete_checkout(registration, outcome)
    assert (await harness.provider.fetch_status(registration.token)).status is outcome
    (event,) = harness.provider.parse_webhook(*harness.signed_webhook(registration, outcome))
    assert isinstance(event, ProviderEvent)
    assert (event.token, event.status) == (registration.token, outcome)


@pytest.mark.parametrize("amount", [Money(1500, "JPY"), Money(12340, "KWD"), Money(9, "ISK")])
async def test_charged_amount_decodes_the_wire(harness: ProviderHarness, amount: Money) -> None:
    registration = await harness.provider.register_checkout(request(amount), idempotency_key="k")
    assert harness.charged_amount(registration) == amount


async def test_faults_and_registrations(harness: ProviderHarness) -> None:
    harness.fail_next("timeout")
    with pytest.raises(ProviderTimeoutError):
        await harness.provider.register_checkout(request(Money(100, "EUR")), idempotency_key="k")
    await harness.provider.register_checkout(request(Money(100, "EUR")), idempotency_key="k")
    assert harness.registrations() == 1
    assert harness.payout_destination("seller-a").account.startswith("acct_")
    assert harness.payout_destination("seller-a") == harness.payout_destination("seller-a")


async def test_start_without_a_spec_can_be_required() -> None:
    with pytest.raises(FileNotFoundError):
        StripeHarness.start(specs_dir=Path("/nonexistent"), require_spec=True)
