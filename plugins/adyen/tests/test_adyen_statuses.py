"""Every status value of Adyen's specs maps explicitly to a paymux status."""

from __future__ import annotations

from paymux.core.domain.payouts import PayoutStatus
from paymux.core.domain.status import PaymentStatus
from paymux_adyen.spec_validation import AdyenSpecs
from paymux_adyen.statuses import (
    PAYMENT_LINK_STATUSES,
    TRANSFER_STATUSES,
    payment_status,
    payout_status,
)


def test_every_payment_link_status_is_mapped(adyen_specs: AdyenSpecs) -> None:
    schema = adyen_specs.raw("CheckoutService-v72.json")["components"]["schemas"]
    values = schema["PaymentLinkResponse"]["properties"]["status"]["enum"]
    assert set(values) == set(PAYMENT_LINK_STATUSES)
    assert {name: payment_status(name) for name in values} == {
        "active": PaymentStatus.PENDING,
        "paymentPending": PaymentStatus.PENDING,
        "completed": PaymentStatus.SUCCEEDED,
        "paid": PaymentStatus.SUCCEEDED,
        "expired": PaymentStatus.EXPIRED,
    }


def test_a_new_link_status_is_unknown_not_a_guess() -> None:
    assert payment_status("somethingNew") is PaymentStatus.UNKNOWN


def test_every_transfer_status_is_mapped(adyen_specs: AdyenSpecs) -> None:
    api = adyen_specs.raw("TransferService-v4.json")["components"]["schemas"]
    hooks = adyen_specs.raw("BalancePlatformTransferNotification-v4.json")["components"]["schemas"]
    values = set(api["Transfer"]["properties"]["status"]["enum"])
    assert values == set(hooks["TransferData"]["properties"]["status"]["enum"])
    assert values == set(TRANSFER_STATUSES)


def test_transfer_statuses_of_a_payout() -> None:
    assert payout_status("received") is PayoutStatus.PENDING
    assert payout_status("authorised") is PayoutStatus.PENDING
    assert payout_status("booked") is PayoutStatus.PAID
    for failed in ("failed", "refused", "returned", "rejected", "cancelled", "error"):
        assert payout_status(failed) is PayoutStatus.FAILED
    assert payout_status("somethingNew") is PayoutStatus.PENDING
