"""The Square provider against the fake Square: registration, status, refunds, payouts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from importlib.metadata import entry_points

import pytest

from paymux.core.domain.refunds import RefundStatus
from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import (
    CheckoutRegistration,
    CheckoutRequest,
    PaymentProvider,
    PayoutRequest,
    ProviderRejectedError,
    RefundRequest,
)
from paymux.core.providers import ProviderContext
from paymux.currencies import Money
from paymux_square import plugin
from paymux_square.harness import LOCATION_ID, SquareHarness
from paymux_square.provider import SquareProvider, square_idempotency_key

KEY = "pmx-" + "0123456789abcdef" * 2 + "01234567"  # paymux's shape: 44 characters
PAYMENT_ID = "pay_0123456789abcdef01234567"
PRICE = Money(2500, "USD")


@pytest.fixture
async def harness() -> AsyncIterator[SquareHarness]:
    async with SquareHarness() as harness:
        yield harness
        assert harness.invalid_requests() == []


def checkout(amount: Money = PRICE) -> CheckoutRequest:
    return CheckoutRequest(
        payment_id=PAYMENT_ID,
        amount=amount,
        country="US",
        payment_method="card",
        buyer_id="buyer-1",
        order_references=("order-1", "order-2"),
        return_url=f"https://paymux.test/checkout/{PAYMENT_ID}",
    )


async def paid(harness: SquareHarness, amount: Money = PRICE) -> CheckoutRegistration:
    registration = await harness.provider.register_checkout(checkout(amount), idempotency_key=KEY)
    await harness.complete_checkout(registration, PaymentStatus.SUCCEEDED)
    return registration


def test_it_is_a_payment_provider_without_payouts(harness: SquareHarness) -> None:
    provider = harness.provider
    assert isinstance(provider, PaymentProvider)
    capabilities = provider.capabilities()
    assert capabilities.methods == {"card"}
    assert capabilities.features == {"hosted_checkout", "webhooks", "status", "refunds"}
    assert "payouts" not in capabilities.features
    assert {"USD", "CAD", "GBP", "AUD", "JPY", "EUR"} <= (capabilities.currencies or set())
    assert capabilities.serves(country="JP", currency="JPY", method="card")
    assert capabilities.serves(country="IE", currency="EUR", method="card")
    assert not capabilities.serves(country="US", currency="USD", method="sepa")
    assert not capabilities.serves(country="DE", currency="SEK", method="card")


async def test_registration_sends_a_payment_link_request_square_accepts(
    harness: SquareHarness,
) -> None:
    registration = await harness.provider.register_checkout(checkout(), idempotency_key=KEY)

    [request] = harness.fake.requests
    assert (request.method, request.path) == ("POST", "/v2/online-checkout/payment-links")
    assert request.errors == ()
    assert request.headers["authorization"] == "Bearer EAAA-fake-square-token"
    assert "idempotency-key" not in request.headers
    body = request.json()
    assert body["idempotency_key"] == KEY
    assert body["order"]["location_id"] == LOCATION_ID
    assert body["order"]["reference_id"] == PAYMENT_ID
    assert body["payment_note"] == PAYMENT_ID
    assert body["checkout_options"] == {"redirect_url": checkout().return_url}
    assert "order-1, order-2" in body["order"]["line_items"][0]["name"]

    link = harness.fake.links[str(registration.psp_reference)]
    assert registration.token == link["order_id"]
    assert registration.redirect_url == link["url"]
    assert harness.charged_amount(registration) == Money(2500, "USD")


async def test_an_idempotent_retry_returns_the_same_link(harness: SquareHarness) -> None:
    first = await harness.provider.register_checkout(checkout(), idempotency_key=KEY)
    again = await harness.provider.register_checkout(checkout(), idempotency_key=KEY)
    other = await harness.provider.register_checkout(checkout(), idempotency_key=KEY + "x")
    assert again == first
    assert other.token != first.token
    assert harness.registrations() == 2
    assert len(harness.fake.requests) == 3


async def test_a_reused_key_with_another_request_is_refused(harness: SquareHarness) -> None:
    await harness.provider.register_checkout(checkout(), idempotency_key=KEY)
    with pytest.raises(ProviderRejectedError) as caught:
        await harness.provider.register_checkout(checkout(Money(2600, "USD")), idempotency_key=KEY)
    assert caught.value.code == "idempotency-key-reused"
    assert harness.registrations() == 1


def test_keys_longer_than_square_allows_are_shortened_stably() -> None:
    assert square_idempotency_key(KEY) == KEY
    long = "k" * 80
    assert square_idempotency_key(long) == square_idempotency_key(long)
    assert len(square_idempotency_key(long)) <= 45
    assert square_idempotency_key(long) != square_idempotency_key(long + "1")


async def test_status_is_pending_until_the_buyer_pays(harness: SquareHarness) -> None:
    registration = await harness.provider.register_checkout(checkout(), idempotency_key=KEY)
    state = await harness.provider.fetch_status(registration.token)
    assert (state.token, state.status, state.failure_code) == (
        registration.token,
        PaymentStatus.PENDING,
        None,
    )
    await harness.complete_checkout(registration, PaymentStatus.SUCCEEDED)
    state = await harness.provider.fetch_status(registration.token)
    assert state.status is PaymentStatus.SUCCEEDED
    assert state.occurred_at is not None
    paths = [request.path for request in harness.fake.requests]
    assert paths[-2:] == [
        f"/v2/orders/{registration.token}",
        f"/v2/payments/{next(iter(harness.fake.payments))}",
    ]


async def test_a_declined_card_is_failed_with_squares_code(harness: SquareHarness) -> None:
    registration = await harness.provider.register_checkout(checkout(), idempotency_key=KEY)
    await harness.complete_checkout(registration, PaymentStatus.FAILED)
    state = await harness.provider.fetch_status(registration.token)
    assert (state.status, state.failure_code) == (PaymentStatus.FAILED, "generic-decline")


async def test_a_canceled_order_is_canceled(harness: SquareHarness) -> None:
    registration = await harness.provider.register_checkout(checkout(), idempotency_key=KEY)
    harness.fake.set_order_state(registration.token, "CANCELED")
    state = await harness.provider.fetch_status(registration.token)
    assert state.status is PaymentStatus.CANCELED


@pytest.mark.parametrize(
    ("square", "paymux"),
    [
        ("APPROVED", PaymentStatus.PENDING),
        ("PENDING", PaymentStatus.PENDING),
        ("CANCELED", PaymentStatus.CANCELED),
        ("FAILED", PaymentStatus.FAILED),
    ],
)
async def test_status_follows_the_payment(
    harness: SquareHarness, square: str, paymux: PaymentStatus
) -> None:
    registration = await harness.provider.register_checkout(checkout(), idempotency_key=KEY)
    payment = harness.fake.pay(registration.token, decline_code="GENERIC_DECLINE")
    harness.fake.set_payment_status(payment["id"], square)
    assert (await harness.provider.fetch_status(registration.token)).status is paymux


async def test_the_hosted_page_pays_and_returns_to_paymux(harness: SquareHarness) -> None:
    import httpx

    registration = await harness.provider.register_checkout(checkout(), idempotency_key=KEY)
    async with httpx.AsyncClient() as browser:
        page = await browser.get(registration.redirect_url)
        assert page.status_code == 200
        assert 'id="amount">2500<' in page.text
        answer = await browser.post(registration.redirect_url, data={"outcome": "pay"})
    assert answer.status_code == 303
    assert answer.headers["location"] == checkout().return_url
    state = await harness.provider.fetch_status(registration.token)
    assert state.status is PaymentStatus.SUCCEEDED


async def test_a_refund_of_the_paid_order_is_pending_then_reported(
    harness: SquareHarness,
) -> None:
    registration = await paid(harness)
    payment_id = next(iter(harness.fake.payments))
    result = await harness.provider.refund(
        RefundRequest(
            refund_id="ref_1", token=registration.token, amount=Money(1000, "USD"), reason="broken"
        ),
        idempotency_key=KEY,
    )
    assert result.status is RefundStatus.PENDING
    refund = harness.fake.refunds[str(result.psp_reference)]
    body = harness.fake.requests[-1].json()
    assert harness.fake.requests[-1].path == "/v2/refunds"
    assert body == {
        "idempotency_key": KEY,
        "payment_id": payment_id,
        "amount_money": {"amount": 1000, "currency": "USD"},
        "reason": "broken",
    }
    assert refund["payment_id"] == payment_id

    again = await harness.provider.refund(
        RefundRequest(
            refund_id="ref_1", token=registration.token, amount=Money(1000, "USD"), reason="broken"
        ),
        idempotency_key=KEY,
    )
    assert again == result
    assert len(harness.fake.refunds) == 1


@pytest.mark.parametrize(
    ("square", "status", "failure_code"),
    [
        ("COMPLETED", RefundStatus.SUCCEEDED, None),
        ("REJECTED", RefundStatus.FAILED, "refund-rejected"),
        ("FAILED", RefundStatus.FAILED, "refund-failed"),
        ("PENDING", RefundStatus.PENDING, None),
    ],
)
async def test_the_refund_answer_is_mapped(
    harness: SquareHarness, square: str, status: RefundStatus, failure_code: str | None
) -> None:
    registration = await paid(harness)
    harness.fake.refund_status = square
    result = await harness.provider.refund(
        RefundRequest(refund_id="ref_1", token=registration.token, amount=Money(2500, "USD")),
        idempotency_key=KEY,
    )
    assert (result.status, result.failure_code) == (status, failure_code)
    assert "reason" not in harness.fake.requests[-1].json()


async def test_a_refund_of_an_unpaid_order_is_refused(harness: SquareHarness) -> None:
    registration = await harness.provider.register_checkout(checkout(), idempotency_key=KEY)
    with pytest.raises(ProviderRejectedError) as caught:
        await harness.provider.refund(
            RefundRequest(refund_id="ref_1", token=registration.token, amount=Money(1, "USD")),
            idempotency_key=KEY,
        )
    assert caught.value.code == "payment-not-refundable"
    assert all(request.path != "/v2/refunds" for request in harness.fake.requests)


async def test_square_refusing_a_refund_is_final(harness: SquareHarness) -> None:
    registration = await paid(harness)
    with pytest.raises(ProviderRejectedError) as caught:
        await harness.provider.refund(
            RefundRequest(refund_id="ref_1", token=registration.token, amount=Money(9999, "USD")),
            idempotency_key=KEY,
        )
    assert caught.value.code == "refund-amount-invalid"


async def test_payouts_are_refused(harness: SquareHarness) -> None:
    with pytest.raises(ProviderRejectedError) as caught:
        await harness.provider.payout(
            PayoutRequest(payout_id="po_1", seller_id="seller-1", amount=Money(100, "USD")),
            idempotency_key=KEY,
        )
    assert caught.value.code == "payouts-not-supported"
    assert harness.fake.requests == []


async def test_the_status_names_the_square_payment_disputes_will_name(
    harness: SquareHarness,
) -> None:
    registration = await paid(harness)
    payment_id = next(iter(harness.fake.payments))
    state = await harness.provider.fetch_status(registration.token)
    assert state.psp_payment_id == payment_id


async def test_the_plugin_builds_the_provider_from_settings() -> None:
    [entry] = [ep for ep in entry_points(group="paymux") if ep.name == "square"]
    assert entry.value == "paymux_square.plugin"
    [spec] = plugin.paymux_add_providers()
    assert spec.name == "square"
    provider = spec.build(
        ProviderContext(
            name="square",
            mode="sandbox",
            public_url="https://paymux.test",
            webhook_url="https://paymux.test/v1/webhooks/square",
            config={
                "access_token": "EAAA-x",
                "location_id": "L1",
                "webhook_signature_key": "k",
                "request_timeout_seconds": "3.5",
            },
        )
    )
    assert isinstance(provider, SquareProvider)
    assert provider.name == "square"
    await provider.aclose()
