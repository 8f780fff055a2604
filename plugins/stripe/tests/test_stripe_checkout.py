"""Registering Checkout Sessions and reading their status, against the fake Stripe."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import (
    CheckoutRequest,
    PaymentProvider,
    ProviderError,
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
)
from paymux.currencies import Money
from paymux_stripe.fake_stripe import StripeFault
from paymux_stripe.harness import StripeHarness, find_specs_dir
from paymux_stripe.spec_validation import as_lists, parse_form

EUR_25 = Money(2500, "EUR")
SPECS = find_specs_dir(Path(__file__).parent)


@pytest.fixture
async def harness() -> AsyncIterator[StripeHarness]:
    """A fresh fake Stripe; the test fails if any request broke Stripe's spec."""
    started = StripeHarness.start(specs_dir=SPECS, require_spec=True)
    yield started
    await started.aclose()


def checkout(amount: Money = EUR_25, payment_id: str = "pay_001") -> CheckoutRequest:
    return CheckoutRequest(
        payment_id=payment_id,
        amount=amount,
        country="DE",
        payment_method="card",
        buyer_id="buyer-7",
        order_references=("order-1", "order-2"),
        return_url="https://paymux.example/status/pay_001",
    )


async def test_the_provider_meets_the_protocol(harness: StripeHarness) -> None:
    assert isinstance(harness.provider, PaymentProvider)
    assert harness.provider.name == "stripe"
    capabilities = harness.provider.capabilities()
    assert capabilities.methods == {"card"}
    assert capabilities.features == {"hosted_checkout", "webhooks", "status", "refunds", "payouts"}
    assert capabilities.serves(country="JP", currency="JPY", method="card")
    assert not capabilities.serves(country="UG", currency="UGX", method="card")


async def test_registration_sends_a_valid_session_with_a_transfer_group(
    harness: StripeHarness,
) -> None:
    registration = await harness.provider.register_checkout(checkout(), idempotency_key="key-1")

    assert registration.token.startswith("cs_test_")
    assert registration.redirect_url == f"{harness.url}/pay/{registration.token}"
    (sent,) = harness.fake.api_requests("POST", "/v1/checkout/sessions")
    assert sent.errors == ()
    assert sent.headers["idempotency-key"] == "key-1"
    assert sent.headers["authorization"] == f"Bearer {harness.config.api_key}"
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    form = as_lists(sent.form)
    assert form["mode"] == "payment"
    assert form["payment_intent_data"]["transfer_group"] == "pay_001"
    assert form["payment_intent_data"]["metadata"]["paymux_payment_id"] == "pay_001"
    assert form["client_reference_id"] == "pay_001"
    assert form["success_url"] == "https://paymux.example/status/pay_001"
    (item,) = form["line_items"]
    assert item["price_data"] == {
        "currency": "eur",
        "unit_amount": "2500",
        "product_data": {"name": "Marketplace order", "description": "order-1, order-2"},
    }
    assert harness.charged_amount(registration) == Money(2500, "EUR")
    assert harness.fake.validation_errors() == []


async def test_an_idempotent_retry_returns_the_same_session(harness: StripeHarness) -> None:
    first = await harness.provider.register_checkout(checkout(), idempotency_key="key-1")
    again = await harness.provider.register_checkout(checkout(), idempotency_key="key-1")

    assert again == first
    assert harness.registrations() == 1
    assert len(harness.fake.api_requests("POST", "/v1/checkout/sessions")) == 2


async def test_the_same_key_with_another_body_is_refused(harness: StripeHarness) -> None:
    await harness.provider.register_checkout(checkout(), idempotency_key="key-1")
    with pytest.raises(ProviderRejectedError) as caught:
        await harness.provider.register_checkout(
            checkout(Money(999, "EUR")), idempotency_key="key-1"
        )
    assert caught.value.code == "idempotency-key-reused"


async def test_a_timeout_is_an_unknown_outcome_and_the_retry_finds_the_session(
    harness: StripeHarness,
) -> None:
    harness.fail_next("timeout")
    with pytest.raises(ProviderTimeoutError) as caught:
        await harness.provider.register_checkout(checkout(), idempotency_key="key-1")
    assert caught.value.retryable
    assert caught.value.outcome_unknown

    registration = await harness.provider.register_checkout(checkout(), idempotency_key="key-1")
    assert harness.registrations() == 1
    assert registration.token in harness.fake.sessions


@pytest.mark.parametrize(
    ("fault", "error", "code"),
    [
        ("unavailable", ProviderUnavailableError, None),
        ("reset", ProviderUnavailableError, None),
        ("rate_limited", ProviderRateLimitedError, None),
        ("lock_timeout", ProviderUnavailableError, None),
        ("rejected", ProviderRejectedError, "generic-decline"),
        ("idempotency_error", ProviderRejectedError, "idempotency-key-reused"),
        ("authentication", ProviderRejectedError, "authentication-failed"),
    ],
)
async def test_each_fault_maps_to_its_error(
    harness: StripeHarness, fault: StripeFault, error: type[ProviderError], code: str | None
) -> None:
    harness.fake.fail_next(fault)
    with pytest.raises(error) as caught:
        await harness.provider.register_checkout(checkout(), idempotency_key="key-1")
    assert type(caught.value) is error
    if code is not None:
        assert isinstance(caught.value, ProviderRejectedError)
        assert caught.value.code == code
        assert not caught.value.retryable
    else:
        assert caught.value.retryable
        # a 429 is a refusal to act now: Stripe did nothing, the outcome is known
        assert caught.value.outcome_unknown is (fault != "rate_limited")


async def test_a_rate_limit_carries_retry_after_and_nothing_was_registered(
    harness: StripeHarness,
) -> None:
    harness.fake.fail_next("rate_limited", retry_after=7)
    with pytest.raises(ProviderRateLimitedError) as caught:
        await harness.provider.register_checkout(checkout(), idempotency_key="key-1")
    assert caught.value.retry_after_seconds == 7.0
    assert harness.registrations() == 0
    registration = await harness.provider.register_checkout(checkout(), idempotency_key="key-1")
    assert harness.registrations() == 1
    assert registration.token in harness.fake.sessions


async def test_a_decline_code_becomes_the_failure_code(harness: StripeHarness) -> None:
    harness.fake.fail_next("rejected", decline_code="insufficient_funds")
    with pytest.raises(ProviderRejectedError) as caught:
        await harness.provider.register_checkout(checkout(), idempotency_key="key-1")
    assert caught.value.code == "insufficient-funds"


async def test_an_unreachable_stripe_is_unavailable(harness: StripeHarness) -> None:
    harness.close()
    with pytest.raises(ProviderUnavailableError):
        await harness.provider.register_checkout(checkout(), idempotency_key="key-1")


@pytest.mark.parametrize(
    ("amount", "wire"),
    [
        (Money(1500, "JPY"), "1500"),
        (Money(12340, "KWD"), "12340"),
        (Money(7, "ISK"), "700"),
        (Money(1999, "HUF"), "1999"),
    ],
)
async def test_amounts_go_out_in_stripe_units(
    harness: StripeHarness, amount: Money, wire: str
) -> None:
    registration = await harness.provider.register_checkout(
        checkout(amount), idempotency_key="key-1"
    )
    (sent,) = harness.fake.api_requests("POST", "/v1/checkout/sessions")
    item = as_lists(sent.form)["line_items"][0]["price_data"]
    assert item["unit_amount"] == wire
    assert item["currency"] == amount.currency.lower()
    assert harness.charged_amount(registration) == amount


async def test_an_amount_stripe_cannot_take_is_refused_before_any_request(
    harness: StripeHarness,
) -> None:
    with pytest.raises(ProviderRejectedError) as caught:
        await harness.provider.register_checkout(
            checkout(Money(1234, "KWD")), idempotency_key="key-1"
        )
    assert caught.value.code == "amount-not-encodable"
    assert harness.fake.api_requests() == []


@pytest.mark.parametrize(
    ("outcome", "failure_code"),
    [
        (PaymentStatus.SUCCEEDED, None),
        (PaymentStatus.FAILED, "generic-decline"),
        (PaymentStatus.PENDING, None),
        (PaymentStatus.EXPIRED, None),
        (PaymentStatus.CANCELED, None),
    ],
)
async def test_fetch_status_follows_the_session_and_its_payment_intent(
    harness: StripeHarness, outcome: PaymentStatus, failure_code: str | None
) -> None:
    registration = await harness.provider.register_checkout(checkout(), idempotency_key="key-1")
    assert (await harness.provider.fetch_status(registration.token)).status is PaymentStatus.PENDING

    await harness.complete_checkout(registration, outcome)
    state = await harness.provider.fetch_status(registration.token)

    assert state.token == registration.token
    assert state.status is outcome
    assert state.failure_code == failure_code
    (read, *_) = harness.fake.api_requests("GET", f"/v1/checkout/sessions/{registration.token}")
    assert as_lists(parse_form(read.query)) == {"expand": ["payment_intent"]}


async def test_fetch_status_of_an_unknown_session_is_rejected(harness: StripeHarness) -> None:
    with pytest.raises(ProviderRejectedError) as caught:
        await harness.provider.fetch_status("cs_test_missing")
    assert caught.value.code == "resource-missing"


async def test_the_hosted_page_completes_the_session(harness: StripeHarness) -> None:
    registration = await harness.provider.register_checkout(checkout(), idempotency_key="key-1")
    async with httpx.AsyncClient() as client:
        page = await client.get(registration.redirect_url)
        assert page.status_code == 200
        assert "Pay" in page.text
        paid = await client.post(registration.redirect_url, data={"outcome": "succeeded"})
    assert paid.status_code == 303
    assert paid.headers["location"] == "https://paymux.example/status/pay_001"
    state = await harness.provider.fetch_status(registration.token)
    assert state.status is PaymentStatus.SUCCEEDED
