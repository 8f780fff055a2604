"""The Adyen provider against the fake Adyen; every request validated by Adyen's specs."""

from __future__ import annotations

import time

import pytest
from Adyen.exceptions import AdyenAPIResponseError

from paymux.core.domain.payouts import PayoutStatus
from paymux.core.domain.refunds import RefundStatus
from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import (
    CheckoutRequest,
    PaymentProvider,
    PayoutDestination,
    PayoutRequest,
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RefundRequest,
)
from paymux.currencies import Money
from paymux.testing.harness import ProviderHarness
from paymux_adyen.client import classify
from paymux_adyen.harness import AdyenHarness


def checkout(payment_id: str = "pay_1", method: str = "card") -> CheckoutRequest:
    return CheckoutRequest(
        payment_id=payment_id,
        amount=Money(1234, "EUR"),
        country="NL",
        payment_method=method,
        buyer_id="buyer-1",
        order_references=("order-1", "order-2"),
        return_url="https://paymux.example/checkout/pay_1",
    )


def test_the_harness_and_provider_fit_the_protocols(harness: AdyenHarness) -> None:
    typed: ProviderHarness = harness
    assert isinstance(typed.provider, PaymentProvider)
    capabilities = harness.provider.capabilities()
    assert capabilities.methods == {"card", "ideal", "sepa_debit"}
    assert capabilities.features == {"hosted_checkout", "webhooks", "status", "refunds", "payouts"}
    assert capabilities.serves(country="NL", currency="EUR", method="ideal")
    assert not capabilities.serves(country="NL", currency="UYU", method="card")


def test_no_payouts_without_a_platform_balance_account() -> None:
    with AdyenHarness(platform_balance_account_id=None) as wired:
        assert "payouts" not in wired.provider.capabilities().features


async def test_a_payment_link_is_the_hosted_page(harness: AdyenHarness) -> None:
    registration = await harness.provider.register_checkout(checkout(), idempotency_key="k1")
    assert registration.token.startswith("PL")
    assert registration.redirect_url == f"{harness.fake.base_url}/links/{registration.token}"
    sent = harness.fake.requests[-1]
    assert sent.method == "POST"
    assert sent.path == "/checkout/v72/paymentLinks"
    assert sent.headers["idempotency-key"] == "k1"
    assert sent.headers["x-api-key"] == harness.config.api_key
    assert sent.json() == {
        "merchantAccount": harness.fake.merchant_account,
        "reference": "pay_1",
        "amount": {"currency": "EUR", "value": 1234},
        "countryCode": "NL",
        "returnUrl": "https://paymux.example/checkout/pay_1",
        "shopperReference": "buyer-1",
        "allowedPaymentMethods": ["scheme"],
        "description": "order-1, order-2",
    }
    assert harness.charged_amount(registration) == Money(1234, "EUR")


@pytest.mark.parametrize(
    ("method", "adyen"), [("ideal", "ideal"), ("sepa_debit", "sepadirectdebit")]
)
async def test_each_method_limits_the_link(harness: AdyenHarness, method: str, adyen: str) -> None:
    await harness.provider.register_checkout(checkout(method=method), idempotency_key="k")
    assert harness.fake.requests[-1].json()["allowedPaymentMethods"] == [adyen]


async def test_an_unknown_method_is_refused_before_calling(harness: AdyenHarness) -> None:
    with pytest.raises(ProviderRejectedError) as caught:
        await harness.provider.register_checkout(checkout(method="paypal"), idempotency_key="k")
    assert caught.value.code == "payment-method-not-supported"
    assert harness.fake.requests == []


async def test_a_retry_with_the_same_key_returns_the_same_link(harness: AdyenHarness) -> None:
    first = await harness.provider.register_checkout(checkout(), idempotency_key="k1")
    again = await harness.provider.register_checkout(checkout(), idempotency_key="k1")
    other = await harness.provider.register_checkout(checkout("pay_2"), idempotency_key="k2")
    assert first == again
    assert other.token != first.token
    assert harness.registrations() == 2


@pytest.mark.parametrize("fault", ["timeout", "reset"])
async def test_an_unknown_outcome_then_a_retry_registers_once(
    harness: AdyenHarness, fault: str
) -> None:
    harness.fake.fail_next(fault)
    with pytest.raises((ProviderTimeoutError, ProviderUnavailableError)) as caught:
        await harness.provider.register_checkout(checkout(), idempotency_key="k1")
    assert caught.value.outcome_unknown
    assert caught.value.retryable
    assert harness.registrations() == 1  # the fake acted before the answer was lost
    registration = await harness.provider.register_checkout(checkout(), idempotency_key="k1")
    assert harness.registrations() == 1
    assert registration.token in harness.fake.links


@pytest.mark.parametrize(
    ("fault", "error", "code"),
    [
        ("timeout", ProviderTimeoutError, None),
        ("reset", ProviderUnavailableError, None),
        ("unavailable", ProviderUnavailableError, None),
        ("conflict", ProviderUnavailableError, None),
        ("rate_limited", ProviderRateLimitedError, None),
        ("rejected", ProviderRejectedError, "adyen-14-030"),
        ("refused", ProviderRejectedError, "adyen-167"),
    ],
)
async def test_every_fault_is_classified(
    harness: AdyenHarness, fault: str, error: type[Exception], code: str | None
) -> None:
    registration = await harness.provider.register_checkout(checkout(), idempotency_key="k")
    harness.fake.fail_next(fault)
    started = time.monotonic()
    with pytest.raises(error) as caught:
        await harness.provider.fetch_status(registration.token)
    assert time.monotonic() - started < 3.5  # one attempt (the 2 s timeout): the SDK does not retry
    if code is not None:
        assert isinstance(caught.value, ProviderRejectedError)
        assert caught.value.code == code
    assert len([r for r in harness.fake.requests if r.method == "GET"]) == 1


async def test_429_is_rate_limited_with_its_retry_after(harness: AdyenHarness) -> None:
    harness.fake.fail_next("rate_limited", retry_after=7)
    with pytest.raises(ProviderRateLimitedError, match="Retry-After: 7") as caught:
        await harness.provider.register_checkout(checkout(), idempotency_key="k")
    assert caught.value.retry_after_seconds == 7.0
    assert caught.value.retryable
    assert not caught.value.outcome_unknown  # Adyen did nothing
    assert harness.registrations() == 0


async def test_an_unreachable_adyen_is_unavailable() -> None:
    with AdyenHarness() as wired:
        wired.close()
        with pytest.raises(ProviderUnavailableError):
            await wired.provider.fetch_status("PL0001")


@pytest.mark.parametrize(
    ("status", "error_code", "expected"),
    [
        (400, "702", "adyen-702"),
        (401, "000", "adyen-authentication-failed"),
        (403, "010", "adyen-permission-denied"),
        (404, None, "adyen-http-404"),
        (422, "14_030", "adyen-14-030"),
    ],
)
def test_sdk_errors_become_rejections_with_slugs(
    status: int, error_code: str | None, expected: str
) -> None:
    error = AdyenAPIResponseError({"status": status}, status_code=status, error_code=error_code)
    classified = classify(error)
    assert isinstance(classified, ProviderRejectedError)
    assert classified.code == expected


@pytest.mark.parametrize("status", [409, 425, 500, 502, 503])
def test_sdk_errors_worth_retrying_are_unavailable(status: int) -> None:
    error = AdyenAPIResponseError({"status": status}, status_code=status, headers={})
    assert isinstance(classify(error), ProviderUnavailableError)


@pytest.mark.parametrize(
    ("status", "headers", "error", "seconds"),
    [
        (429, {"Retry-After": "12"}, ProviderRateLimitedError, 12.0),
        (429, {}, ProviderRateLimitedError, None),
        (429, {"Retry-After": "soon"}, ProviderRateLimitedError, None),
        (503, {"retry-after": "3"}, ProviderUnavailableError, 3.0),
    ],
)
def test_retry_after_is_parsed(
    status: int, headers: dict[str, str], error: type[Exception], seconds: float | None
) -> None:
    sdk_error = AdyenAPIResponseError({"status": status}, status_code=status, headers=headers)
    classified = classify(sdk_error)
    assert type(classified) is error
    assert isinstance(classified, ProviderRateLimitedError | ProviderUnavailableError)
    assert classified.retry_after_seconds == seconds


async def test_status_follows_the_link(harness: AdyenHarness) -> None:
    registration = await harness.provider.register_checkout(checkout(), idempotency_key="k")
    state = await harness.provider.fetch_status(registration.token)
    assert state.status is PaymentStatus.PENDING
    assert state.occurred_at is not None
    await harness.complete_checkout(registration, PaymentStatus.SUCCEEDED)
    assert (
        await harness.provider.fetch_status(registration.token)
    ).status is PaymentStatus.SUCCEEDED


async def test_a_refused_buyer_leaves_an_expired_link(harness: AdyenHarness) -> None:
    registration = await harness.provider.register_checkout(checkout(), idempotency_key="k")
    await harness.complete_checkout(registration, PaymentStatus.FAILED)
    assert (await harness.provider.fetch_status(registration.token)).status is PaymentStatus.EXPIRED


async def test_a_refund_goes_to_the_payment_and_stays_pending(harness: AdyenHarness) -> None:
    registration = await harness.provider.register_checkout(checkout(), idempotency_key="k")
    await harness.complete_checkout(registration, PaymentStatus.SUCCEEDED)
    payment = harness.provider.payments.payment_of(registration.token)
    assert payment is not None
    request = RefundRequest("refund_1", registration.token, Money(500, "EUR"), "damaged")
    result = await harness.provider.refund(request, idempotency_key="refund-key")
    again = await harness.provider.refund(request, idempotency_key="refund-key")
    assert result.status is RefundStatus.PENDING
    assert result.psp_reference
    assert again == result
    assert len(harness.fake.refunds) == 1
    sent = harness.fake.requests[-1]
    assert sent.path == f"/checkout/v72/payments/{payment}/refunds"
    assert sent.headers["idempotency-key"] == "refund-key"
    assert sent.json() == {
        "merchantAccount": harness.fake.merchant_account,
        "amount": {"currency": "EUR", "value": 500},
        "reference": "refund_1",
    }


async def test_a_refund_beyond_the_payment_is_rejected(harness: AdyenHarness) -> None:
    registration = await harness.provider.register_checkout(checkout(), idempotency_key="k")
    await harness.complete_checkout(registration, PaymentStatus.SUCCEEDED)
    request = RefundRequest("refund_1", registration.token, Money(5000, "EUR"))
    with pytest.raises(ProviderRejectedError) as caught:
        await harness.provider.refund(request, idempotency_key="r")
    assert caught.value.code == "adyen-137"


async def test_a_refund_of_an_unknown_payment_is_refused_without_calling(
    harness: AdyenHarness,
) -> None:
    request = RefundRequest("refund_1", "PL_NEVER_PAID", Money(5, "EUR"))
    with pytest.raises(ProviderRejectedError) as caught:
        await harness.provider.refund(request, idempotency_key="r")
    assert caught.value.code == "adyen-payment-reference-unknown"
    assert harness.fake.requests == []


@pytest.mark.parametrize("fault", ["timeout", "reset", "unavailable", "conflict", "rate_limited"])
async def test_a_refund_retried_after_an_unknown_outcome_refunds_once(
    harness: AdyenHarness, fault: str
) -> None:
    registration = await harness.provider.register_checkout(checkout(), idempotency_key="k")
    await harness.complete_checkout(registration, PaymentStatus.SUCCEEDED)
    request = RefundRequest("refund_1", registration.token, Money(500, "EUR"))
    harness.fake.fail_next(fault)
    retryable = (ProviderTimeoutError, ProviderUnavailableError, ProviderRateLimitedError)
    with pytest.raises(retryable) as caught:
        await harness.provider.refund(request, idempotency_key="refund-key")
    assert caught.value.retryable
    result = await harness.provider.refund(request, idempotency_key="refund-key")
    assert result.status is RefundStatus.PENDING
    assert len(harness.fake.refunds) == 1


async def test_a_payout_is_a_transfer_between_balance_accounts(harness: AdyenHarness) -> None:
    destination = harness.payout_destination("seller-a")
    request = PayoutRequest("payout_1", "seller-a", Money(1500, "EUR"), destination)
    result = await harness.provider.payout(request, idempotency_key="payout-key")
    again = await harness.provider.payout(request, idempotency_key="payout-key")
    assert result.status is PayoutStatus.PENDING
    assert result.psp_reference
    assert again == result
    assert len(harness.fake.transfers) == 1
    sent = harness.fake.requests[-1]
    assert sent.path == "/btl/v4/transfers"
    assert sent.headers["idempotency-key"] == "payout-key"
    assert sent.json() == {
        "amount": {"currency": "EUR", "value": 1500},
        "balanceAccountId": harness.fake.platform_balance_account,
        "category": "internal",
        "counterparty": {"balanceAccountId": destination.account},
        "reference": "payout_1",
        "description": "paymux payout payout_1",
    }


async def test_a_payout_without_destination_is_refused(harness: AdyenHarness) -> None:
    request = PayoutRequest("payout_1", "seller-a", Money(1500, "EUR"))
    with pytest.raises(ProviderRejectedError) as caught:
        await harness.provider.payout(request, idempotency_key="p")
    assert caught.value.code == "payout-destination-missing"
    assert harness.fake.requests == []


async def test_a_refused_transfer_is_a_failed_payout(harness: AdyenHarness) -> None:
    harness.fake.fail_next("refused")
    request = PayoutRequest("payout_1", "s", Money(1500, "EUR"), harness.payout_destination("s"))
    result = await harness.provider.payout(request, idempotency_key="p")
    assert result.status is PayoutStatus.FAILED
    assert result.failure_code == "adyen-not-enough-balance"


async def test_an_unknown_counterparty_is_rejected(harness: AdyenHarness) -> None:
    request = PayoutRequest("payout_1", "s", Money(1500, "EUR"), PayoutDestination("NL91ABNA"))
    with pytest.raises(ProviderRejectedError) as caught:
        await harness.provider.payout(request, idempotency_key="p")
    assert caught.value.code == "adyen-30-112"


@pytest.mark.parametrize("fault", ["timeout", "reset"])
async def test_a_payout_retried_after_an_unknown_outcome_pays_once(
    harness: AdyenHarness, fault: str
) -> None:
    request = PayoutRequest("payout_1", "s", Money(1500, "EUR"), harness.payout_destination("s"))
    harness.fake.fail_next(fault)
    with pytest.raises((ProviderTimeoutError, ProviderUnavailableError)):
        await harness.provider.payout(request, idempotency_key="p")
    await harness.provider.payout(request, idempotency_key="p")
    assert len(harness.fake.transfers) == 1
