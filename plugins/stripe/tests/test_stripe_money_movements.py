"""Refunds on the PaymentIntent and seller payouts through Connect transfers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from paymux.core.domain.payouts import PayoutStatus
from paymux.core.domain.refunds import RefundStatus
from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import (
    CheckoutRegistration,
    CheckoutRequest,
    PayoutDestination,
    PayoutEvent,
    PayoutRequest,
    ProviderRejectedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RefundEvent,
    RefundRequest,
)
from paymux.currencies import Money
from paymux_stripe.harness import StripeHarness, find_specs_dir
from paymux_stripe.spec_validation import as_lists

EUR_25 = Money(2500, "EUR")
EUR_15 = Money(1500, "EUR")
SPECS = find_specs_dir(Path(__file__).parent)


@pytest.fixture
async def harness() -> AsyncIterator[StripeHarness]:
    started = StripeHarness.start(specs_dir=SPECS, require_spec=True)
    yield started
    await started.aclose()


async def paid(harness: StripeHarness, amount: Money = EUR_25) -> CheckoutRegistration:
    request = CheckoutRequest(
        payment_id="pay_001",
        amount=amount,
        country="DE",
        payment_method="card",
        buyer_id="buyer-7",
        order_references=("order-1",),
        return_url="https://paymux.example/status/pay_001",
    )
    registration = await harness.provider.register_checkout(request, idempotency_key="key-1")
    await harness.complete_checkout(registration, PaymentStatus.SUCCEEDED)
    return registration


def refund(
    registration: CheckoutRegistration, amount: Money, refund_id: str = "rf_1"
) -> RefundRequest:
    return RefundRequest(
        refund_id=refund_id, token=registration.token, amount=amount, reason="damaged"
    )


async def test_a_refund_goes_to_the_payment_intent_with_our_key_and_id(
    harness: StripeHarness,
) -> None:
    registration = await paid(harness)

    result = await harness.provider.refund(
        refund(registration, Money(500, "EUR")), idempotency_key="refund-key-1"
    )

    assert result.status is RefundStatus.SUCCEEDED
    assert result.psp_reference is not None
    assert result.psp_reference.startswith("re_")
    (sent,) = harness.fake.api_requests("POST", "/v1/refunds")
    assert sent.headers["idempotency-key"] == "refund-key-1"
    (intent_id,) = harness.fake.intents
    assert as_lists(sent.form) == {
        "payment_intent": intent_id,
        "amount": "500",
        "metadata": {"paymux_refund_id": "rf_1", "paymux_reason": "damaged"},
    }
    event = harness.fake.events[-1]
    assert event["type"] == "charge.refunded"
    (mapped,) = harness.provider.parse_webhook(*harness.fake.signed(event))
    assert isinstance(mapped, RefundEvent)
    assert (mapped.refund_id, mapped.psp_reference, mapped.status) == (
        "rf_1",
        result.psp_reference,
        RefundStatus.SUCCEEDED,
    )


async def test_a_refund_retry_does_not_refund_twice(harness: StripeHarness) -> None:
    registration = await paid(harness)
    harness.fail_next("timeout")
    with pytest.raises(ProviderTimeoutError):
        await harness.provider.refund(refund(registration, Money(500, "EUR")), idempotency_key="k")
    result = await harness.provider.refund(
        refund(registration, Money(500, "EUR")), idempotency_key="k"
    )
    assert result.status is RefundStatus.SUCCEEDED
    assert len(harness.fake.refunds) == 1


async def test_refund_amounts_are_encoded(harness: StripeHarness) -> None:
    registration = await paid(harness, Money(9, "ISK"))
    await harness.provider.refund(refund(registration, Money(2, "ISK")), idempotency_key="k")
    (sent,) = harness.fake.api_requests("POST", "/v1/refunds")
    assert sent.form["amount"] == "200"


async def test_too_large_a_refund_is_rejected(harness: StripeHarness) -> None:
    registration = await paid(harness)
    with pytest.raises(ProviderRejectedError) as caught:
        await harness.provider.refund(refund(registration, Money(9999, "EUR")), idempotency_key="k")
    assert caught.value.code == "amount-too-large"


async def test_an_unpaid_session_cannot_be_refunded(harness: StripeHarness) -> None:
    request = CheckoutRequest(
        payment_id="pay_002",
        amount=Money(2500, "EUR"),
        country="DE",
        payment_method="card",
        buyer_id="b",
        order_references=("o",),
        return_url="https://paymux.example/s",
    )
    registration = await harness.provider.register_checkout(request, idempotency_key="key-2")
    with pytest.raises(ProviderRejectedError) as caught:
        await harness.provider.refund(refund(registration, Money(100, "EUR")), idempotency_key="k")
    assert caught.value.code == "not-paid"
    assert harness.fake.api_requests("POST", "/v1/refunds") == []


async def test_a_refund_in_another_currency_is_rejected(harness: StripeHarness) -> None:
    registration = await paid(harness)
    with pytest.raises(ProviderRejectedError) as caught:
        await harness.provider.refund(refund(registration, Money(100, "USD")), idempotency_key="k")
    assert caught.value.code == "currency-mismatch"


def payout(destination: PayoutDestination | None, amount: Money = EUR_15) -> PayoutRequest:
    return PayoutRequest(
        payout_id="po_1", seller_id="seller-a", amount=amount, destination=destination
    )


async def test_a_payout_is_a_transfer_to_the_connected_account(harness: StripeHarness) -> None:
    destination = harness.payout_destination("seller-a")

    result = await harness.provider.payout(payout(destination), idempotency_key="payout-key-1")

    assert result.status is PayoutStatus.PAID
    assert result.psp_reference is not None
    assert result.psp_reference.startswith("tr_")
    (sent,) = harness.fake.api_requests("POST", "/v1/transfers")
    assert sent.headers["idempotency-key"] == "payout-key-1"
    assert as_lists(sent.form) == {
        "amount": "1500",
        "currency": "eur",
        "destination": destination.account,
        "description": "paymux payout po_1",
        "metadata": {"paymux_payout_id": "po_1", "paymux_seller_id": "seller-a"},
    }
    (mapped,) = harness.provider.parse_webhook(*harness.fake.signed(harness.fake.events[-1]))
    assert isinstance(mapped, PayoutEvent)
    assert (mapped.payout_id, mapped.psp_reference, mapped.status) == (
        "po_1",
        result.psp_reference,
        PayoutStatus.PAID,
    )


async def test_a_payout_retry_pays_once(harness: StripeHarness) -> None:
    destination = harness.payout_destination("seller-a")
    harness.fail_next("reset")
    with pytest.raises(ProviderUnavailableError):
        await harness.provider.payout(payout(destination), idempotency_key="k")
    await harness.provider.payout(payout(destination), idempotency_key="k")
    assert len(harness.fake.transfers) == 1


async def test_a_payout_without_destination_is_refused_before_any_request(
    harness: StripeHarness,
) -> None:
    with pytest.raises(ProviderRejectedError) as caught:
        await harness.provider.payout(payout(None), idempotency_key="k")
    assert caught.value.code == "payout-destination-missing"
    with pytest.raises(ProviderRejectedError) as invalid:
        await harness.provider.payout(
            payout(PayoutDestination(account="DE89370400440532013000")), idempotency_key="k"
        )
    assert invalid.value.code == "payout-destination-invalid"
    assert harness.fake.api_requests() == []


async def test_payout_amounts_are_encoded(harness: StripeHarness) -> None:
    destination = harness.payout_destination("seller-a")
    await harness.provider.payout(payout(destination, Money(1500, "JPY")), idempotency_key="a")
    await harness.provider.payout(payout(destination, Money(12340, "KWD")), idempotency_key="b")
    with pytest.raises(ProviderRejectedError) as caught:
        await harness.provider.payout(payout(destination, Money(12345, "KWD")), idempotency_key="c")
    assert caught.value.code == "amount-not-encodable"
    amounts = [r.form["amount"] for r in harness.fake.api_requests("POST", "/v1/transfers")]
    assert amounts == ["1500", "12340"]
