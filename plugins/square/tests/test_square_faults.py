"""Every failure of Square maps to paymux's error classes; the SDK never retries."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import (
    CheckoutRequest,
    ProviderError,
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    RefundRequest,
)
from paymux.currencies import Money
from paymux_square.errors import SquareRateLimitedError, slug
from paymux_square.fake_square import FaultKind
from paymux_square.harness import SquareHarness

KEY = "pmx-" + "f" * 40


@pytest.fixture
async def harness() -> AsyncIterator[SquareHarness]:
    async with SquareHarness(request_timeout_seconds=0.5, stall_seconds=1.5) as harness:
        yield harness
        assert harness.invalid_requests() == []


def checkout() -> CheckoutRequest:
    return CheckoutRequest(
        payment_id="pay_1",
        amount=Money(700, "GBP"),
        country="GB",
        payment_method="card",
        buyer_id="buyer-1",
        order_references=("order-1",),
        return_url="https://paymux.test/checkout/pay_1",
    )


@pytest.mark.parametrize(
    ("fault", "error", "retryable", "outcome_unknown"),
    [
        ("server_error", ProviderUnavailableError, True, True),
        ("rate_limited", SquareRateLimitedError, True, False),
        ("conflict", ProviderUnavailableError, True, True),
        ("decline", ProviderRejectedError, False, False),
        ("timeout", ProviderTimeoutError, True, True),
        ("reset", ProviderUnavailableError, True, True),
    ],
)
async def test_each_fault_of_a_registration_is_classified(
    harness: SquareHarness,
    fault: FaultKind,
    error: type[ProviderError],
    retryable: bool,
    outcome_unknown: bool,
) -> None:
    harness.fake.fail_next(fault, retry_after_seconds=7)
    with pytest.raises(error) as caught:
        await harness.provider.register_checkout(checkout(), idempotency_key=KEY)
    assert type(caught.value) is error
    assert (caught.value.retryable, caught.value.outcome_unknown) == (retryable, outcome_unknown)
    assert len(harness.fake.requests) == 1  # the SDK did not retry


async def test_a_decline_carries_squares_code(harness: SquareHarness) -> None:
    harness.fake.fail_next("decline")
    with pytest.raises(ProviderRejectedError) as caught:
        await harness.provider.register_checkout(checkout(), idempotency_key=KEY)
    assert caught.value.code == "generic-decline"
    assert harness.registrations() == 0


async def test_a_rate_limit_is_paymuxs_rate_limited_error_with_retry_after(
    harness: SquareHarness,
) -> None:
    harness.fake.fail_next("rate_limited", retry_after_seconds=7)
    with pytest.raises(ProviderRateLimitedError) as caught:
        await harness.provider.register_checkout(checkout(), idempotency_key=KEY)
    assert isinstance(caught.value, SquareRateLimitedError)
    assert caught.value.retry_after_seconds == 7.0
    assert caught.value.retryable
    assert not caught.value.outcome_unknown  # Square did nothing: no "unknown" payment
    assert harness.registrations() == 0


@pytest.mark.parametrize("fault", ["timeout", "reset"])
async def test_a_lost_answer_then_a_retry_gives_the_same_single_link(
    harness: SquareHarness, fault: FaultKind
) -> None:
    harness.fake.fail_next(fault)
    with pytest.raises((ProviderTimeoutError, ProviderUnavailableError)):
        await harness.provider.register_checkout(checkout(), idempotency_key=KEY)
    assert harness.registrations() == 1  # Square acted before the answer was lost

    registration = await harness.provider.register_checkout(checkout(), idempotency_key=KEY)
    assert harness.registrations() == 1
    assert registration.psp_reference in harness.fake.links


@pytest.mark.parametrize("fault", ["server_error", "conflict", "rate_limited"])
async def test_a_retryable_answer_acted_on_nothing(
    harness: SquareHarness, fault: FaultKind
) -> None:
    harness.fake.fail_next(fault)
    with pytest.raises((ProviderUnavailableError, ProviderRateLimitedError)) as caught:
        await harness.provider.register_checkout(checkout(), idempotency_key=KEY)
    assert caught.value.retryable
    assert harness.registrations() == 0
    await harness.provider.register_checkout(checkout(), idempotency_key=KEY)
    assert harness.registrations() == 1


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("server_error", ProviderUnavailableError),
        ("timeout", ProviderTimeoutError),
        ("reset", ProviderUnavailableError),
        ("rate_limited", SquareRateLimitedError),
    ],
)
async def test_fetch_status_faults(
    harness: SquareHarness, fault: FaultKind, error: type[ProviderError]
) -> None:
    registration = await harness.provider.register_checkout(checkout(), idempotency_key=KEY)
    harness.fake.fail_next(fault)
    with pytest.raises(error):
        await harness.provider.fetch_status(registration.token)
    assert (await harness.provider.fetch_status(registration.token)).status is PaymentStatus.PENDING


@pytest.mark.parametrize(
    ("fault", "error", "refunds_after"),
    [
        ("decline", ProviderRejectedError, 0),
        ("server_error", ProviderUnavailableError, 0),
        ("conflict", ProviderUnavailableError, 0),
        ("rate_limited", SquareRateLimitedError, 0),
        ("timeout", ProviderTimeoutError, 1),
        ("reset", ProviderUnavailableError, 1),
    ],
)
async def test_refund_faults(
    harness: SquareHarness, fault: FaultKind, error: type[ProviderError], refunds_after: int
) -> None:
    registration = await harness.provider.register_checkout(checkout(), idempotency_key=KEY)
    await harness.complete_checkout(registration, PaymentStatus.SUCCEEDED)
    request = RefundRequest(refund_id="ref_1", token=registration.token, amount=Money(700, "GBP"))
    harness.fake.fail_next(fault, path_prefix="/v2/refunds")
    with pytest.raises(error) as caught:
        await harness.provider.refund(request, idempotency_key=KEY)
    if fault == "decline":
        assert isinstance(caught.value, ProviderRejectedError)
        assert caught.value.code == "refund-declined"
    assert len(harness.fake.refunds) == refunds_after
    if error is not ProviderRejectedError:  # the retry refunds once, whatever happened before
        await harness.provider.refund(request, idempotency_key=KEY)
        assert len(harness.fake.refunds) == 1


async def test_an_unreachable_square_is_unavailable() -> None:
    async with SquareHarness() as harness:
        base = harness.base_url
    from paymux_square.config import SquareConfig
    from paymux_square.provider import SquareProvider

    config = SquareConfig(
        access_token="EAAA-x",
        location_id="L",
        webhook_signature_key="k",
        base_url=base,
        request_timeout_seconds=1,
    )
    provider = SquareProvider(config, mode="sandbox", webhook_url="https://paymux.test/wh")
    try:
        with pytest.raises(ProviderUnavailableError):
            await provider.fetch_status("ORDER")
    finally:
        await provider.aclose()


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("GENERIC_DECLINE", "generic-decline"),
        ("CARD_DECLINED", "card-declined"),
        ("", "provider-rejected"),
    ],
)
def test_error_codes_become_slugs(code: str, expected: str) -> None:
    assert slug(code) == expected
