"""The sandbox provider against the simulator, in process (httpx's ASGI transport)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import (
    CheckoutRequest,
    PaymentProvider,
    ProviderEvent,
    ProviderRateLimitedError,
    ProviderRejectedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    WebhookVerificationError,
)
from paymux.currencies import Money
from paymux_sandbox.cards import TEST_CARDS, InvalidCardError, luhn_valid, normalize_card_number
from paymux_sandbox.config import SandboxConfig
from paymux_sandbox.provider import SandboxProvider
from paymux_sandbox.signature import sign, verify
from paymux_sandbox.simulator import SandboxPsp

BASE = "http://psp.test"


@dataclass
class Pair:
    psp: SandboxPsp
    provider: SandboxProvider


@pytest.fixture
async def pair() -> AsyncIterator[Pair]:
    config = SandboxConfig(request_timeout_seconds=1.0, stall_seconds=2.0, webhook_attempts=1)
    psp = SandboxPsp(config, public_base=BASE)
    provider = SandboxProvider(
        config,
        base_url=BASE,
        webhook_url="http://127.0.0.1:9/unreachable",
        transport=httpx.ASGITransport(app=psp.asgi()),
    )
    yield Pair(psp, provider)
    await provider.aclose()
    await psp.aclose()


def checkout(buyer_id: str = "b1", amount: int = 1234) -> CheckoutRequest:
    return CheckoutRequest(
        payment_id="pay_1",
        amount=Money(amount, "EUR"),
        country="DE",
        payment_method="card",
        buyer_id=buyer_id,
        order_references=("o1", "o2"),
        return_url="https://paymux.example/checkout/pay_1",
    )


def test_it_is_a_payment_provider(pair: Pair) -> None:
    assert isinstance(pair.provider, PaymentProvider)
    assert pair.provider.capabilities().serves(country="JP", currency="JPY", method="card")
    assert not pair.provider.capabilities().serves(country="DE", currency="EUR", method="sepa")


async def test_registration_is_idempotent_on_the_key(pair: Pair) -> None:
    first = await pair.provider.register_checkout(checkout(), idempotency_key="k1")
    again = await pair.provider.register_checkout(checkout(), idempotency_key="k1")
    other = await pair.provider.register_checkout(checkout(), idempotency_key="k2")
    assert first == again
    assert other.token != first.token
    assert first.redirect_url == f"{BASE}/pay/{first.token}"
    assert len(pair.psp.checkouts) == 2
    assert pair.psp.registration_requests == 3


async def test_same_key_other_request_is_rejected(pair: Pair) -> None:
    await pair.provider.register_checkout(checkout(), idempotency_key="k1")
    with pytest.raises(ProviderRejectedError) as raised:
        await pair.provider.register_checkout(checkout(amount=999), idempotency_key="k1")
    assert raised.value.code == "idempotency_error"


async def test_timeout_buyer_stalls_only_the_first_attempt(pair: Pair) -> None:
    with pytest.raises(ProviderTimeoutError):
        await pair.provider.register_checkout(checkout("sandbox-timeout"), idempotency_key="t")
    started = time.monotonic()
    registration = await pair.provider.register_checkout(
        checkout("sandbox-timeout"), idempotency_key="t"
    )
    assert time.monotonic() - started < 1.0  # the stall is 2 s
    assert len(pair.psp.checkouts) == 1
    assert registration.token in pair.psp.checkouts


async def test_rate_limited_is_retryable_with_retry_after_and_nothing_done(pair: Pair) -> None:
    pair.psp.fail_next("rate_limited")
    with pytest.raises(ProviderRateLimitedError) as raised:
        await pair.provider.register_checkout(checkout(), idempotency_key="r")
    assert raised.value.retryable
    assert not raised.value.outcome_unknown
    assert raised.value.retry_after_seconds == 1.0
    assert pair.psp.checkouts == {}
    registration = await pair.provider.register_checkout(checkout(), idempotency_key="r")
    assert registration.token in pair.psp.checkouts


async def test_unreachable_psp_is_unavailable_not_failed() -> None:
    provider = SandboxProvider(
        SandboxConfig(), base_url="http://127.0.0.1:9", webhook_url="http://x"
    )
    try:
        with pytest.raises(ProviderUnavailableError) as raised:
            await provider.register_checkout(checkout(), idempotency_key="k")
        assert raised.value.retryable
        assert raised.value.outcome_unknown
    finally:
        await provider.aclose()


async def test_server_errors_are_retryable() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, json={"error": "bad gateway"})

    provider = SandboxProvider(
        SandboxConfig(),
        base_url=BASE,
        webhook_url="http://x",
        transport=httpx.MockTransport(answer),
    )
    try:
        with pytest.raises(ProviderUnavailableError):
            await provider.fetch_status("sbx_1")
    finally:
        await provider.aclose()


async def test_fetch_status_follows_the_hosted_page(
    pair: Pair, caplog: pytest.LogCaptureFixture
) -> None:
    registration = await pair.provider.register_checkout(checkout(), idempotency_key="k1")
    assert (await pair.provider.fetch_status(registration.token)).status is PaymentStatus.PENDING
    caplog.set_level(logging.DEBUG)
    pair.psp.pay(registration.token, "4000 0000 0000 9995")
    state = await pair.provider.fetch_status(registration.token)
    assert state.status is PaymentStatus.FAILED
    assert state.failure_code == "insufficient_funds"
    stored = pair.psp.checkouts[registration.token]
    assert stored.card_last4 == "9995"
    assert "4000000000009995" not in repr(vars(stored))
    assert "4000000000009995" not in caplog.text
    assert "4000 0000 0000 9995" not in caplog.text


async def test_hosted_page_submission_never_keeps_the_card(pair: Pair) -> None:
    registration = await pair.provider.register_checkout(checkout(), idempotency_key="k1")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=pair.psp.asgi()), base_url=BASE
    ) as browser:
        page = await browser.get(f"/pay/{registration.token}")
        assert page.status_code == 200
        assert "€12.34" in page.text
        bad = await browser.post(
            f"/pay/{registration.token}", data={"card_number": "4242424242424241"}
        )
        assert bad.status_code == 400
        assert "not valid" in bad.text
        assert "4242424242424241" not in bad.text
        paid = await browser.post(
            f"/pay/{registration.token}", data={"card_number": "4242424242424242", "cvc": "123"}
        )
        assert paid.status_code == 303
        assert paid.headers["location"] == "https://paymux.example/checkout/pay_1"
        twice = await browser.post(
            f"/pay/{registration.token}", data={"card_number": "4242424242424242"}
        )
        assert twice.status_code == 409
    assert "4242424242424242" not in repr(vars(pair.psp.checkouts[registration.token]))


def test_webhook_signature_round_trip_and_failures() -> None:
    body = b'{"id": "evt_1"}'
    now = int(time.time())
    header = sign(body, secret="whsec_12345678", timestamp=now)
    verify(header, body, secret="whsec_12345678", now=now, tolerance=300)
    for bad_header, bad_body, secret, at in [
        (header, body + b" ", "whsec_12345678", now),
        (header, body, "whsec_other_123", now),
        (header, body, "whsec_12345678", now + 301),
        ("t=abc,v1=00", body, "whsec_12345678", now),
        (None, body, "whsec_12345678", now),
    ]:
        with pytest.raises(WebhookVerificationError):
            verify(bad_header, bad_body, secret=secret, now=at, tolerance=300)


def test_parse_webhook_normalizes_the_event(pair: Pair) -> None:
    body = b'{"id": "evt_1", "created": 1, "data": {"token": "sbx_1", "status": "succeeded"}}'
    header = sign(body, secret=SandboxConfig().webhook_secret, timestamp=int(time.time()))
    [event] = pair.provider.parse_webhook({"sandbox-signature": header}, body)
    assert isinstance(event, ProviderEvent)
    assert (event.event_id, event.token, event.status) == (
        "evt_1",
        "sbx_1",
        PaymentStatus.SUCCEEDED,
    )


def test_test_cards_are_valid_and_distinct() -> None:
    assert all(luhn_valid(card.number) for card in TEST_CARDS)
    assert len({card.scenario for card in TEST_CARDS}) == len(TEST_CARDS)
    assert normalize_card_number("4242-4242 4242 4242") == "4242424242424242"
    for bad in ("4242", "4242424242424241", "abcd efgh ijkl mnop"):
        with pytest.raises(InvalidCardError):
            normalize_card_number(bad)
