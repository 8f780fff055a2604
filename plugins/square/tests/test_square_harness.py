"""SquareHarness is the ProviderHarness the conformance suite drives: a short run of it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import (
    CheckoutRequest,
    ProviderEvent,
    ProviderRejectedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
)
from paymux.currencies import Money
from paymux.testing.harness import Fault, ProviderHarness
from paymux_square.harness import SquareHarness


@pytest.fixture
async def harness() -> AsyncIterator[ProviderHarness]:
    square = SquareHarness()
    typed: ProviderHarness = square  # mypy checks the protocol here
    yield typed
    assert square.invalid_requests() == []
    await square.aclose()


def checkout(payment_id: str = "pay_h1") -> CheckoutRequest:
    return CheckoutRequest(
        payment_id=payment_id,
        amount=Money(1234, "EUR"),
        country="FR",
        payment_method="card",
        buyer_id="buyer-1",
        order_references=("order-1",),
        return_url=f"https://paymux.test/checkout/{payment_id}",
    )


@pytest.mark.parametrize("outcome", [PaymentStatus.SUCCEEDED, PaymentStatus.FAILED])
async def test_checkout_outcome_status_and_webhook_agree(
    harness: ProviderHarness, outcome: PaymentStatus
) -> None:
    registration = await harness.provider.register_checkout(checkout(), idempotency_key="k1")
    assert harness.charged_amount(registration) == Money(1234, "EUR")
    await harness.complete_checkout(registration, outcome)
    assert (await harness.provider.fetch_status(registration.token)).status is outcome
    first = harness.signed_webhook(registration, outcome)
    second = harness.signed_webhook(registration, outcome)
    [event] = harness.provider.parse_webhook(*first)
    [again] = harness.provider.parse_webhook(*second)
    assert isinstance(event, ProviderEvent)
    assert isinstance(again, ProviderEvent)
    assert (event.token, event.status) == (registration.token, outcome)
    assert event.event_id != again.event_id  # a fresh event id each time
    assert harness.stale_webhook(registration, outcome) is None


async def test_webhooks_for_a_payment_not_made_yet(harness: ProviderHarness) -> None:
    registration = await harness.provider.register_checkout(checkout(), idempotency_key="k1")
    for outcome in (PaymentStatus.SUCCEEDED, PaymentStatus.FAILED):
        [event] = harness.provider.parse_webhook(*harness.signed_webhook(registration, outcome))
        assert isinstance(event, ProviderEvent)
        assert (event.token, event.status) == (registration.token, outcome)


@pytest.mark.parametrize(
    ("fault", "error", "acted"),
    [
        ("timeout", ProviderTimeoutError, True),
        ("unavailable", ProviderUnavailableError, False),
        ("rejected", ProviderRejectedError, False),
        ("reset", ProviderUnavailableError, True),
    ],
)
async def test_scripted_faults(
    harness: ProviderHarness, fault: Fault, error: type[Exception], acted: bool
) -> None:
    harness.fail_next(fault)
    with pytest.raises(error):
        await harness.provider.register_checkout(checkout(), idempotency_key="k1")
    assert harness.registrations() == (1 if acted else 0)
    if fault != "rejected":
        await harness.provider.register_checkout(checkout(), idempotency_key="k1")
        assert harness.registrations() == 1


async def test_payout_destinations_are_not_offered(harness: ProviderHarness) -> None:
    assert "payouts" not in harness.provider.capabilities().features
    with pytest.raises(NotImplementedError):
        harness.payout_destination("seller-1")
