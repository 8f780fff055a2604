"""Classic HMAC notifications and balance-platform transfer webhooks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from Adyen import util

from paymux.core.domain.chargebacks import DisputeStatus
from paymux.core.domain.payouts import PayoutStatus
from paymux.core.domain.refunds import RefundStatus
from paymux.core.domain.status import PaymentStatus
from paymux.core.ports.provider import (
    CheckoutRequest,
    DisputeEvent,
    PayoutEvent,
    PayoutRequest,
    ProviderEvent,
    RefundEvent,
    WebhookVerificationError,
)
from paymux.currencies import Money
from paymux_adyen.fake_psp import FakeAdyen
from paymux_adyen.harness import AdyenHarness
from paymux_adyen.signatures import sign_notification_item, sign_payload
from paymux_adyen.spec_validation import AdyenSpecs

REQUEST = CheckoutRequest("pay_1", Money(1234, "EUR"), "NL", "card", "b1", ("o1",), "https://r")


def item(fake: FakeAdyen, code: str = "AUTHORISATION", **overrides: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "psp_reference": "PSP0000000000001",
        "merchant_reference": "pay_1",
        "amount": {"currency": "EUR", "value": 1234},
        "success": True,
        "additional": {"paymentLinkId": "PL0001"},
    }
    options.update(overrides)
    return fake.notification_item(code, **options)


def test_our_signatures_equal_the_sdk_helpers(harness: AdyenHarness) -> None:
    signed = item(harness.fake)
    unsigned = {k: v for k, v in signed.items() if k != "additionalData"}
    expected = util.generate_notification_sig(unsigned, harness.fake.hmac_key).decode()
    assert sign_notification_item(signed, harness.fake.hmac_key) == expected
    body = b'{"type": "balancePlatform.transfer.updated"}'
    signature = sign_payload(body, harness.fake.platform_hmac_key)
    assert util.is_valid_hmac_payload(signature, harness.fake.platform_hmac_key, body)


async def test_the_harness_webhook_is_adyen_shaped_and_verifies(
    harness: AdyenHarness, adyen_specs: AdyenSpecs
) -> None:
    registration = await harness.provider.register_checkout(REQUEST, idempotency_key="k")
    headers, body = harness.signed_webhook(registration, PaymentStatus.SUCCEEDED)
    assert adyen_specs.webhook_errors("/AUTHORISATION", body) == []
    (event,) = harness.provider.parse_webhook(headers, body)
    assert isinstance(event, ProviderEvent)
    assert event.token == registration.token
    assert event.status is PaymentStatus.SUCCEEDED
    _, other = harness.signed_webhook(registration, PaymentStatus.SUCCEEDED)
    assert harness.provider.parse_webhook(headers, other)[0].event_id != event.event_id
    assert harness.stale_webhook(registration, PaymentStatus.SUCCEEDED) is None


@pytest.mark.parametrize("bad", [0, 1, 2])
def test_one_bad_item_refuses_the_whole_batch(harness: AdyenHarness, bad: int) -> None:
    items = [item(harness.fake, psp_reference=f"PSP000000000000{n}") for n in range(3)]
    items[bad]["amount"]["value"] = 99999  # tampered after signing
    headers, body = harness.fake.notification_batch(*items)
    with pytest.raises(WebhookVerificationError, match=f"item {bad}"):
        harness.provider.parse_webhook(headers, body)
    assert harness.provider.payments.payment_of("PL0001") is None  # nothing was learned


def test_the_sdk_alone_would_accept_a_bad_second_item(harness: AdyenHarness) -> None:
    items = [item(harness.fake), item(harness.fake, psp_reference="PSP0000000000002")]
    items[1]["additionalData"]["hmacSignature"] = "forged"
    _, body = harness.fake.notification_batch(*items)
    assert util.is_valid_hmac_notification(json.loads(body), harness.fake.hmac_key)
    with pytest.raises(WebhookVerificationError):
        harness.provider.parse_webhook({}, body)


@pytest.mark.parametrize(
    "body",
    [b"not json", b"{}", b'{"notificationItems": []}', b'{"notificationItems": [{"x": 1}]}'],
)
def test_unreadable_bodies_are_refused(harness: AdyenHarness, body: bytes) -> None:
    with pytest.raises(WebhookVerificationError):
        harness.provider.parse_webhook({}, body)


def test_a_missing_signature_or_another_key_is_refused(harness: AdyenHarness) -> None:
    unsigned = item(harness.fake)
    del unsigned["additionalData"]
    with pytest.raises(WebhookVerificationError):
        harness.provider.parse_webhook(*harness.fake.notification_batch(unsigned))
    other = FakeAdyen(hmac_key="00" * 32)
    try:
        with pytest.raises(WebhookVerificationError):
            harness.provider.parse_webhook(*other.notification_batch(item(other)))
    finally:
        other.stop()


def test_event_ids_are_stable_across_redeliveries(harness: AdyenHarness) -> None:
    headers, body = harness.fake.notification_batch(item(harness.fake))
    first = harness.provider.parse_webhook(headers, body)
    again = harness.provider.parse_webhook(headers, body)
    assert [e.event_id for e in first] == [e.event_id for e in again]
    assert first[0].event_id == "PSP0000000000001:AUTHORISATION:true"


PAYMENT_CASES = [
    ("AUTHORISATION", True, PaymentStatus.SUCCEEDED, None),
    ("AUTHORISATION", False, PaymentStatus.FAILED, "adyen-refused"),
    ("CANCELLATION", True, PaymentStatus.CANCELED, None),
    ("EXPIRE", True, PaymentStatus.EXPIRED, "adyen-authorisation-expired"),
]


@pytest.mark.parametrize(("code", "success", "status", "failure"), PAYMENT_CASES)
def test_payment_event_codes(
    harness: AdyenHarness, code: str, success: bool, status: PaymentStatus, failure: str | None
) -> None:
    signed = item(harness.fake, code, success=success, reason="" if success else "Refused")
    (event,) = harness.provider.parse_webhook(*harness.fake.notification_batch(signed))
    assert event == ProviderEvent(
        event_id=f"PSP0000000000001:{code}:{'true' if success else 'false'}",
        token="PL0001",
        status=status,
        failure_code=failure,
        occurred_at=event.occurred_at,
        psp_payment_id="PSP0000000000001" if code == "AUTHORISATION" and success else None,
        payment_id="pay_1",  # the signed merchantReference
    )
    assert event.occurred_at is not None


@pytest.mark.parametrize("code", ["CANCELLATION", "EXPIRE"])
def test_a_modification_that_did_not_happen_changes_nothing(
    harness: AdyenHarness, code: str
) -> None:
    signed = item(harness.fake, code, success=False)
    assert harness.provider.parse_webhook(*harness.fake.notification_batch(signed)) == []


def test_a_refused_attempt_can_leave_the_link_open() -> None:
    with AdyenHarness(refused_attempt_is_final=False) as wired:
        signed = item(wired.fake, success=False, reason="Not enough balance")
        (event,) = wired.provider.parse_webhook(*wired.fake.notification_batch(signed))
        assert isinstance(event, ProviderEvent)
        assert event.status is PaymentStatus.PENDING
        assert event.failure_code == "adyen-not-enough-balance"


def test_modifications_find_the_link_through_the_learned_payment(harness: AdyenHarness) -> None:
    harness.provider.parse_webhook(*harness.fake.notification_batch(item(harness.fake)))
    cancel = item(
        harness.fake,
        "CANCELLATION",
        psp_reference="PSP_CANCEL_00001",
        original_reference="PSP0000000000001",
        additional={},
    )
    (event,) = harness.provider.parse_webhook(*harness.fake.notification_batch(cancel))
    assert isinstance(event, ProviderEvent)
    assert event.token == "PL0001"


def test_a_payment_event_of_an_unknown_link_is_acknowledged_unused(
    harness: AdyenHarness,
) -> None:
    cancel = item(harness.fake, "CANCELLATION", original_reference="PSP_UNKNOWN", additional={})
    assert harness.provider.parse_webhook(*harness.fake.notification_batch(cancel)) == []


@pytest.mark.parametrize(
    ("code", "success", "status", "failure"),
    [
        ("REFUND", True, RefundStatus.SUCCEEDED, None),
        ("REFUND", False, RefundStatus.FAILED, "adyen-insufficient-balance"),
        ("REFUND_FAILED", True, RefundStatus.FAILED, "adyen-insufficient-balance"),
    ],
)
def test_refund_event_codes(
    harness: AdyenHarness, code: str, success: bool, status: RefundStatus, failure: str | None
) -> None:
    signed = item(
        harness.fake,
        code,
        psp_reference="PSP_REFUND_00001",
        original_reference="PSP0000000000001",
        merchant_reference="refund_1",
        success=success,
        reason="" if status is RefundStatus.SUCCEEDED else "Insufficient balance",
        additional={},
    )
    (event,) = harness.provider.parse_webhook(*harness.fake.notification_batch(signed))
    assert isinstance(event, RefundEvent)
    assert event.status is status
    assert event.refund_id == "refund_1"
    assert event.psp_reference == "PSP_REFUND_00001"
    assert event.failure_code == failure


DISPUTE_CASES = [
    ("NOTIFICATION_OF_CHARGEBACK", {}, DisputeStatus.OPENED),
    ("CHARGEBACK", {}, DisputeStatus.OPENED),
    ("CHARGEBACK", {"disputeStatus": "Lost"}, DisputeStatus.LOST),
    ("CHARGEBACK", {"disputeStatus": "Accepted"}, DisputeStatus.LOST),
    ("CHARGEBACK", {"disputeStatus": "Won"}, DisputeStatus.WON),
    ("CHARGEBACK_REVERSED", {}, DisputeStatus.WON),
    ("SECOND_CHARGEBACK", {}, DisputeStatus.LOST),
    ("PREARBITRATION_WON", {}, DisputeStatus.WON),
    ("PREARBITRATION_LOST", {}, DisputeStatus.LOST),
]


@pytest.mark.parametrize(("code", "extra", "status"), DISPUTE_CASES)
def test_dispute_event_codes(
    harness: AdyenHarness, code: str, extra: dict[str, str], status: DisputeStatus
) -> None:
    harness.provider.parse_webhook(*harness.fake.notification_batch(item(harness.fake)))
    signed = item(
        harness.fake,
        code,
        psp_reference="DISPUTE000000001",
        original_reference="PSP0000000000001",
        amount={"currency": "EUR", "value": 1000},
        additional={"chargebackReasonCode": "4853", **extra},
    )
    (event,) = harness.provider.parse_webhook(*harness.fake.notification_batch(signed))
    assert event == DisputeEvent(
        event_id=f"DISPUTE000000001:{code}:true",
        token="PL0001",
        dispute_id="DISPUTE000000001",
        status=status,
        amount=Money(1000, "EUR"),
        reason="4853",
        occurred_at=event.occurred_at,
    )


def test_a_dispute_amount_is_decoded_by_adyen_rules(harness: AdyenHarness) -> None:
    signed = item(
        harness.fake,
        "CHARGEBACK",
        psp_reference="DISPUTE000000001",
        original_reference="PSP_NOT_SEEN_YET",
        amount={"currency": "CLP", "value": 150000},
        additional={},
    )
    (event,) = harness.provider.parse_webhook(*harness.fake.notification_batch(signed))
    assert isinstance(event, DisputeEvent)
    assert event.amount == Money(1500, "CLP")
    assert event.token == "PSP_NOT_SEEN_YET"  # the payment's pspReference, when not learned


@pytest.mark.parametrize(
    "code", ["CAPTURE", "REPORT_AVAILABLE", "PAYOUT_THIRDPARTY", "OFFER_CLOSED"]
)
def test_unused_event_codes_verify_and_give_nothing(harness: AdyenHarness, code: str) -> None:
    assert (
        harness.provider.parse_webhook(*harness.fake.notification_batch(item(harness.fake, code)))
        == []
    )


def test_items_of_another_merchant_account_are_ignored() -> None:
    other = FakeAdyen(merchant_account="SomeoneElse")
    try:
        with AdyenHarness() as wired:
            signed = item(other)
            signed["additionalData"]["hmacSignature"] = sign_notification_item(
                signed, wired.fake.hmac_key
            )
            assert wired.provider.parse_webhook(*other.notification_batch(signed)) == []
    finally:
        other.stop()


@pytest.mark.parametrize(
    "name",
    [
        "AUTHORISATION-authorisation",
        "CANCELLATION-cancellation",
        "EXPIRE-expire",
        "REFUND-refund",
        "REFUND_FAILED-refund_failed",
        "CHARGEBACK-chargeback",
        "NOTIFICATION_OF_CHARGEBACK-notification_of_chargeback",
        "CHARGEBACK_REVERSED-chargeback_reversed",
        "SECOND_CHARGEBACK-second_chargeback",
        "PREARBITRATION_WON-prearbitration_won",
        "PREARBITRATION_LOST-prearbitration_lost",
    ],
)
def test_the_spec_examples_parse_once_signed(
    harness: AdyenHarness, adyen_specs: AdyenSpecs, name: str
) -> None:
    examples = adyen_specs.raw("Webhooks-v1.json")["components"]["examples"]
    document = examples[f"post-{name}"]["value"]
    for wrapper in document["notificationItems"]:
        notification = wrapper["NotificationRequestItem"]
        notification["merchantAccountCode"] = harness.fake.merchant_account
        notification.setdefault("additionalData", {})["paymentLinkId"] = "PL0001"
        notification["additionalData"]["hmacSignature"] = sign_notification_item(
            notification, harness.fake.hmac_key
        )
    body = json.dumps(document).encode()
    events = harness.provider.parse_webhook({}, body)
    assert len(events) == 1
    assert events[0].event_id.startswith(
        document["notificationItems"][0]["NotificationRequestItem"]["pspReference"]
    )


async def test_a_booked_transfer_is_a_paid_payout(
    harness: AdyenHarness, adyen_specs: AdyenSpecs
) -> None:
    destination = harness.payout_destination("seller-a")
    request = PayoutRequest("payout_1", "seller-a", Money(1500, "EUR"), destination)
    result = await harness.provider.payout(request, idempotency_key="p")
    assert result.psp_reference is not None
    headers, body = harness.fake.book_transfer(result.psp_reference)
    assert adyen_specs.webhook_errors("balancePlatform.transfer.updated", body) == []
    (event,) = harness.provider.parse_webhook(headers, body)
    assert event == PayoutEvent(
        event_id=f"{result.psp_reference}:2:booked",
        status=PayoutStatus.PAID,
        payout_id="payout_1",
        psp_reference=result.psp_reference,
        occurred_at=event.occurred_at,
    )
    assert harness.provider.parse_webhook(headers, body) == [event]


@pytest.mark.parametrize(
    ("status", "expected", "failure"),
    [
        ("authorised", None, None),
        ("received", None, None),
        ("booked", PayoutStatus.PAID, None),
        ("failed", PayoutStatus.FAILED, "adyen-failed"),
        ("refused", PayoutStatus.FAILED, "adyen-refused"),
        ("returned", PayoutStatus.FAILED, "adyen-returned"),
    ],
)
async def test_transfer_statuses_in_webhooks(
    harness: AdyenHarness, status: str, expected: PayoutStatus | None, failure: str | None
) -> None:
    request = PayoutRequest("payout_1", "s", Money(1500, "EUR"), harness.payout_destination("s"))
    result = await harness.provider.payout(request, idempotency_key="p")
    assert result.psp_reference is not None
    events = harness.provider.parse_webhook(
        *harness.fake.book_transfer(result.psp_reference, status)
    )
    if expected is None:
        assert events == []
    else:
        (event,) = events
        assert isinstance(event, PayoutEvent)
        assert event.status is expected
        assert event.failure_code == failure


def test_transfer_webhook_signature_is_checked(harness: AdyenHarness) -> None:
    transfer = {"id": "T1", "status": "booked", "category": "internal",
                "amount": {"currency": "EUR", "value": 1}, "reference": "payout_1"}  # fmt: skip
    headers, body = harness.fake.transfer_webhook(transfer)
    assert len(harness.provider.parse_webhook(headers, body)) == 1
    with pytest.raises(WebhookVerificationError):
        harness.provider.parse_webhook({**headers, "hmacsignature": "AAAA"}, body)
    with pytest.raises(WebhookVerificationError):
        harness.provider.parse_webhook(headers, body.replace(b"payout_1", b"payout_2"))
    with (
        AdyenHarness(balance_platform_hmac_key=None) as unkeyed,
        pytest.raises(WebhookVerificationError),
    ):
        unkeyed.provider.parse_webhook(headers, body)


def test_incoming_or_foreign_transfers_give_nothing(harness: AdyenHarness) -> None:
    base = {"id": "T1", "status": "booked", "category": "internal",
            "amount": {"currency": "EUR", "value": 1}, "reference": "payout_1"}  # fmt: skip
    incoming = json.loads(harness.fake.transfer_webhook(base)[1])
    incoming["data"]["direction"] = "incoming"
    foreign = json.loads(harness.fake.transfer_webhook(base)[1])
    foreign["data"]["balanceAccount"] = {"id": "BA_SOMEONE_ELSE"}
    for document in (incoming, foreign):
        body = json.dumps(document).encode()
        headers = {"hmacsignature": sign_payload(body, harness.fake.platform_hmac_key)}
        assert harness.provider.parse_webhook(headers, body) == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("01.payout-authorized", None),
        ("02.payout-booked", PayoutStatus.PAID),
        ("04.internal-booked", None),  # the seller's incoming side of a transfer
        ("06.directDebit-cancelled", None),  # incoming, not a payout
    ],
)
def test_the_transfer_spec_examples_parse(
    harness: AdyenHarness, adyen_specs: AdyenSpecs, name: str, expected: PayoutStatus | None
) -> None:
    examples = adyen_specs.raw("BalancePlatformTransferNotification-v4.json")["components"]
    document = examples["examples"][f"post-balancePlatform.transfer.updated-{name}"]["value"]
    body = json.dumps(document).encode()
    headers = {"hmacsignature": sign_payload(body, harness.fake.platform_hmac_key)}
    events = harness.provider.parse_webhook(headers, body)
    assert all(isinstance(e, PayoutEvent) for e in events)
    assert [getattr(e, "status", None) for e in events] == ([] if expected is None else [expected])
