"""Pay-ins: references issued once, settled by a statement line with the exact amount."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest

from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import (
    CheckoutRequest,
    PaymentProvider,
    ProviderEvent,
    ProviderRejectedError,
    ProviderTimeoutError,
    ProviderUnavailableError,
    WebhookVerificationError,
)
from paymux.currencies import Money
from paymux.testing.harness import ProviderHarness
from paymux_bank_transfer import fake_bank
from paymux_bank_transfer.harness import PLATFORM_IBAN, BankTransferHarness
from paymux_bank_transfer.matching import TRANSFER_RETURNED
from paymux_bank_transfer.provider import BankTransferProvider
from paymux_bank_transfer.references import format_reference, is_valid_creditor_reference
from paymux_bank_transfer.signature import SIGNATURE_HEADER, sign
from paymux_bank_transfer.statements import ENTRY_STATUS_APPLIES, EntryStatus


@pytest.fixture
async def bank() -> AsyncIterator[BankTransferHarness]:
    harness = BankTransferHarness(expiry_days=3)
    yield harness
    await harness.aclose()


def checkout(
    payment_id: str = "pay_1", amount: int = 4250, currency: str = "EUR"
) -> CheckoutRequest:
    return CheckoutRequest(
        payment_id=payment_id,
        amount=Money(amount, currency),
        country="DE",
        payment_method="bank_transfer",
        buyer_id="buyer-1",
        order_references=("order-1",),
        return_url="https://shop.example/thanks",
    )


def test_it_is_a_payment_provider_and_a_harness(bank: BankTransferHarness) -> None:
    harness: ProviderHarness = bank  # the conformance suite's protocol (checked by mypy)
    assert isinstance(harness.provider, PaymentProvider)
    capabilities = bank.provider.capabilities()
    assert capabilities.serves(country="FR", currency="EUR", method="bank_transfer")
    assert not capabilities.serves(country="US", currency="EUR", method="bank_transfer")
    assert not capabilities.serves(country="DE", currency="USD", method="bank_transfer")
    assert "refunds" not in capabilities.features


async def test_registration_is_idempotent(bank: BankTransferHarness) -> None:
    first = await bank.provider.register_checkout(checkout(), idempotency_key="k1")
    again = await bank.provider.register_checkout(checkout(), idempotency_key="k1")
    other_key = await bank.provider.register_checkout(checkout(), idempotency_key="k2")
    assert first == again == other_key  # one payment, one reference
    assert is_valid_creditor_reference(first.token)
    assert first.redirect_url == f"http://paymux.test/bank-transfer/pay/{first.token}"
    second = await bank.provider.register_checkout(checkout("pay_2"), idempotency_key="k3")
    assert second.token != first.token
    assert bank.registrations() == 2
    with pytest.raises(ProviderRejectedError) as raised:
        await bank.provider.register_checkout(checkout(amount=1), idempotency_key="k1")
    assert raised.value.code == "idempotency-key-reused"


async def test_concurrent_registrations_issue_one_reference(bank: BankTransferHarness) -> None:
    answers = await asyncio.gather(
        *(bank.provider.register_checkout(checkout(), idempotency_key="k1") for _ in range(8))
    )
    assert len({answer.token for answer in answers}) == 1
    assert bank.registrations() == 1


async def test_only_eur_within_sepa_limits(bank: BankTransferHarness) -> None:
    for request, code in [
        (checkout(currency="USD"), "currency-not-supported"),
        (checkout(amount=0), "invalid-amount"),
        (checkout(amount=100_000_000_000), "invalid-amount"),
    ]:
        with pytest.raises(ProviderRejectedError) as raised:
            await bank.provider.register_checkout(request, idempotency_key="k")
        assert raised.value.code == code
    assert bank.registrations() == 0


async def test_matching_statement_line_makes_the_payment_succeed(bank: BankTransferHarness) -> None:
    registration = await bank.provider.register_checkout(checkout(), idempotency_key="k1")
    state = await bank.provider.fetch_status(registration.token)
    assert state.status is PaymentStatus.PENDING
    line = fake_bank.credit(Money(4250, "EUR"), format_reference(registration.token))
    events = await bank.provider.import_statement(fake_bank.statement(PLATFORM_IBAN, [line]))
    assert [(e.token, e.status) for e in events if isinstance(e, ProviderEvent)] == [
        (registration.token, PaymentStatus.SUCCEEDED)
    ]
    state = await bank.provider.fetch_status(registration.token)
    assert state.status is PaymentStatus.SUCCEEDED
    assert state.occurred_at is not None


async def test_reference_typed_in_the_free_text_matches_too(bank: BankTransferHarness) -> None:
    registration = await bank.provider.register_checkout(checkout(), idempotency_key="k1")
    line = fake_bank.Line(
        "CRDT",
        Money(4250, "EUR"),
        remittance_text=f"Order 1 {format_reference(registration.token).lower()}",
    )
    await bank.provider.import_statement(fake_bank.statement(PLATFORM_IBAN, [line]))
    assert (await bank.provider.fetch_status(registration.token)).status is PaymentStatus.SUCCEEDED


@pytest.mark.parametrize("paid", [4249, 4251, 425000, 42])
async def test_a_wrong_amount_never_makes_the_payment_succeed(
    bank: BankTransferHarness, paid: int
) -> None:
    registration = await bank.provider.register_checkout(checkout(), idempotency_key="k1")
    document = fake_bank.statement(
        PLATFORM_IBAN, [fake_bank.credit(Money(paid, "EUR"), registration.token)]
    )
    assert await bank.provider.import_statement(document) == []
    assert bank.provider.parse_webhook(bank.sign(document), document) == []
    assert (await bank.provider.fetch_status(registration.token)).status is PaymentStatus.PENDING
    [unmatched] = await bank.provider.unmatched_lines()
    assert (unmatched["outcome"], unmatched["key"]) == (
        "payment-amount-mismatch",
        registration.token,
    )


async def test_lines_that_do_not_settle_anything(bank: BankTransferHarness) -> None:
    registration = await bank.provider.register_checkout(checkout(), idempotency_key="k1")
    amount = Money(4250, "EUR")
    credit = fake_bank.credit(amount, registration.token)
    ignored = [
        replace(credit, status="PDNG"),  # not booked yet
        replace(credit, status="INFO"),
        replace(credit, reversal=True),  # a reversal never pays
    ]
    for line in ignored:
        document = fake_bank.statement(PLATFORM_IBAN, [line])
        assert await bank.provider.import_statement(document) == []
        assert bank.provider.parse_webhook(bank.sign(document), document) == []
    other_account = fake_bank.statement("FR1420041010050500013M02606", [credit])
    assert await bank.provider.import_statement(other_account) == []
    assert bank.provider.parse_webhook(bank.sign(other_account), other_account) == []
    assert (await bank.provider.fetch_status(registration.token)).status is PaymentStatus.PENDING


def test_every_entry_status_is_mapped() -> None:
    assert set(ENTRY_STATUS_APPLIES) == set(EntryStatus)
    assert {s.value for s in EntryStatus} == {"BOOK", "PDNG", "INFO", "FUTR"}
    assert [s for s, applies in ENTRY_STATUS_APPLIES.items() if applies] == [EntryStatus.BOOKED]


async def test_unpaid_reference_expires_after_the_configured_days(
    bank: BankTransferHarness,
) -> None:
    registration = await bank.provider.register_checkout(checkout(), idempotency_key="k1")
    bank.advance(timedelta(days=3) - timedelta(seconds=1))
    assert (await bank.provider.fetch_status(registration.token)).status is PaymentStatus.PENDING
    bank.advance(timedelta(seconds=1))
    state = await bank.provider.fetch_status(registration.token)
    assert state.status is PaymentStatus.EXPIRED
    assert state.occurred_at == bank.now


async def test_a_paid_reference_does_not_expire(bank: BankTransferHarness) -> None:
    registration = await bank.provider.register_checkout(checkout(), idempotency_key="k1")
    await bank.complete_checkout(registration, PaymentStatus.SUCCEEDED)
    bank.advance(timedelta(days=30))
    assert (await bank.provider.fetch_status(registration.token)).status is PaymentStatus.SUCCEEDED


async def test_a_returned_transfer_fails_the_payment(bank: BankTransferHarness) -> None:
    registration = await bank.provider.register_checkout(checkout(), idempotency_key="k1")
    await bank.complete_checkout(registration, PaymentStatus.FAILED)
    state = await bank.provider.fetch_status(registration.token)
    assert (state.status, state.failure_code) == (PaymentStatus.FAILED, TRANSFER_RETURNED)


async def test_signed_upload_gives_the_same_events_as_an_import(bank: BankTransferHarness) -> None:
    registration = await bank.provider.register_checkout(checkout(), idempotency_key="k1")
    headers, body = bank.signed_webhook(registration, PaymentStatus.SUCCEEDED)
    from_upload = bank.provider.parse_webhook(headers, body)
    assert [(e.token, e.status) for e in from_upload if isinstance(e, ProviderEvent)] == [
        (registration.token, PaymentStatus.SUCCEEDED)
    ]
    assert bank.provider.parse_webhook(headers, body) == from_upload  # stable event ids
    assert await bank.provider.import_statement(body) == from_upload
    assert bank.stale_webhook(registration, PaymentStatus.SUCCEEDED) is None  # no timestamp
    _, again = bank.signed_webhook(registration, PaymentStatus.SUCCEEDED)
    [fresh] = bank.provider.parse_webhook(bank.sign(again), again)
    assert fresh.event_id != from_upload[0].event_id  # another booking, another event


async def test_forged_or_unreadable_uploads_are_refused(bank: BankTransferHarness) -> None:
    registration = await bank.provider.register_checkout(checkout(), idempotency_key="k1")
    headers, body = bank.signed_webhook(registration, PaymentStatus.SUCCEEDED)
    forged = body.replace(b"42.50", b"42.51")
    bad = [
        (headers, forged),  # body changed after signing
        ({SIGNATURE_HEADER: sign(body, secret="not-the-statement-secret")}, body),
        ({}, body),
        ({SIGNATURE_HEADER: ""}, body),
        (bank.sign(b"<Document/>"), b"<Document/>"),
        (bank.sign(b"not xml"), b"not xml"),
    ]
    for bad_headers, bad_body in bad:
        with pytest.raises(WebhookVerificationError):
            bank.provider.parse_webhook(bad_headers, bad_body)
    assert (await bank.provider.fetch_status(registration.token)).status is PaymentStatus.PENDING


async def test_state_survives_a_restart(bank: BankTransferHarness) -> None:
    registration = await bank.provider.register_checkout(checkout(), idempotency_key="k1")
    restarted = BankTransferProvider(bank.config, page_base_url="http://other.test/bt")
    try:
        again = await restarted.register_checkout(checkout(), idempotency_key="k1")
        assert again.token == registration.token
        await bank.complete_checkout(registration, PaymentStatus.SUCCEEDED)
        assert (await restarted.fetch_status(registration.token)).status is PaymentStatus.SUCCEEDED
    finally:
        await restarted.aclose()


async def test_unknown_reference_is_rejected(bank: BankTransferHarness) -> None:
    with pytest.raises(ProviderRejectedError) as raised:
        await bank.provider.fetch_status("RF18539007547034")
    assert raised.value.code == "unknown-reference"


async def test_store_faults_are_classified(bank: BankTransferHarness) -> None:
    bank.fail_next("unavailable")
    with pytest.raises(ProviderUnavailableError):
        await bank.provider.register_checkout(checkout(), idempotency_key="k1")
    assert bank.registrations() == 0
    bank.fail_next("timeout")
    with pytest.raises(ProviderTimeoutError):
        await bank.provider.register_checkout(checkout(), idempotency_key="k1")
    bank.fail_next("reset")
    with pytest.raises(ProviderUnavailableError) as raised:
        await bank.provider.register_checkout(checkout(), idempotency_key="k1")
    assert raised.value.outcome_unknown
    bank.fail_next("rejected")
    with pytest.raises(ProviderRejectedError):
        await bank.provider.register_checkout(checkout(), idempotency_key="k1")
    registration = await bank.provider.register_checkout(checkout(), idempotency_key="k1")
    assert bank.registrations() == 1  # the timed-out attempt's reference, returned again
    assert bank.charged_amount(registration) == Money(4250, "EUR")
