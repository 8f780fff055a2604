"""Payouts: validated destinations, an open batch, pain.001.001.09 files, statement lines."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from importlib.resources import files
from xml.etree import ElementTree as ET

import pytest
import xmlschema

from paymux.core.domain.payouts import PayoutStatus
from paymux.core.ports.provider import (
    PayoutDestination,
    PayoutEvent,
    PayoutRequest,
    ProviderRejectedError,
)
from paymux.currencies import Money
from paymux_bank_transfer import fake_bank
from paymux_bank_transfer.harness import PLATFORM_IBAN, BankTransferHarness
from paymux_bank_transfer.matching import RETURN_REASONS, payout_failure_code

NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"}


@pytest.fixture
async def bank() -> AsyncIterator[BankTransferHarness]:
    harness = BankTransferHarness()
    yield harness
    await harness.aclose()


def request(
    bank: BankTransferHarness,
    payout_id: str = "po_1",
    amount: int = 12345,
    destination: PayoutDestination | None = None,
    currency: str = "EUR",
) -> PayoutRequest:
    return PayoutRequest(
        payout_id=payout_id,
        seller_id="seller-a",
        amount=Money(amount, currency),
        destination=destination or bank.payout_destination("seller-a"),
    )


def xsd() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(files("sepaxml") / "schemas" / "pain.001.001.09.xsd"))


async def test_batch_of_payouts_is_a_valid_pain_001_001_09(bank: BankTransferHarness) -> None:
    first = await bank.provider.payout(request(bank), idempotency_key="k1")
    second = await bank.provider.payout(
        request(
            bank,
            "po_2",
            5000,
            PayoutDestination("FR14 2004 1010 0505 0001 3M02 606", holder_name="Jeanne Dupönt"),
        ),
        idempotency_key="k2",
    )
    assert first.status is second.status is PayoutStatus.PENDING
    batch = await bank.provider.export_payout_batch(date(2030, 1, 15))
    assert batch is not None
    assert (batch.transfer_count, batch.total) == (2, Money(17345, "EUR"))
    xsd().validate(batch.document.decode())
    root = ET.fromstring(batch.document)  # noqa: S314 - our own document
    assert root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs", namespaces=NS) == "2"
    assert root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", namespaces=NS) == "173.45"
    assert root.findtext(".//p:DbtrAcct/p:Id/p:IBAN", namespaces=NS) == PLATFORM_IBAN
    assert root.findtext(".//p:ReqdExctnDt/p:Dt", namespaces=NS) == "2030-01-15"
    end_to_end = [e.text for e in root.iterfind(".//p:EndToEndId", NS)]
    assert end_to_end == [first.psp_reference, second.psp_reference]
    ibans = [e.text for e in root.iterfind(".//p:CdtrAcct/p:Id/p:IBAN", NS)]
    assert ibans == ["NL91ABNA0417164300", "FR1420041010050500013M02606"]
    assert [e.text for e in root.iterfind(".//p:Cdtr/p:Nm", NS)] == [
        "Seller seller-a",
        "Jeanne Dupont",
    ]
    # the batch is closed: nothing left to export, and it can be fetched again
    assert await bank.provider.export_payout_batch() is None
    again = await bank.provider.payout_batch(batch.batch_id)
    assert again is not None
    assert again.document == batch.document
    third = await bank.provider.payout(request(bank, "po_3"), idempotency_key="k3")
    next_batch = await bank.provider.export_payout_batch()
    assert next_batch is not None
    assert next_batch.transfer_count == 1
    assert third.psp_reference is not None
    assert third.psp_reference.encode() in next_batch.document


async def test_payout_is_idempotent(bank: BankTransferHarness) -> None:
    first = await bank.provider.payout(request(bank), idempotency_key="k1")
    again = await bank.provider.payout(request(bank), idempotency_key="k1")
    other_key = await bank.provider.payout(request(bank), idempotency_key="k2")
    assert first == again == other_key
    with pytest.raises(ProviderRejectedError) as raised:
        await bank.provider.payout(request(bank, amount=1), idempotency_key="k1")
    assert raised.value.code == "idempotency-key-reused"
    batch = await bank.provider.export_payout_batch()
    assert batch is not None
    assert batch.transfer_count == 1


@pytest.mark.parametrize(
    ("destination", "code"),
    [
        (None, "payout-destination-missing"),
        (PayoutDestination("NL91ABNA0417164300"), "payout-destination-missing"),
        (PayoutDestination("NL91ABNA0417164300", holder_name="  "), "payout-destination-missing"),
        (PayoutDestination("NL91ABNA0417164301", holder_name="Jan"), "invalid-iban"),
        (PayoutDestination("not an iban", holder_name="Jan"), "invalid-iban"),
        (PayoutDestination("BR1500000000000010932840814P2", holder_name="Ana"), "invalid-iban"),
        (
            PayoutDestination("NL91ABNA0417164300", holder_name="Jan", details={"bic": "ABNA"}),
            "invalid-bic",
        ),
        (
            PayoutDestination("NL91ABNA0417164300", holder_name="Jan", details={"bic": "ABNAXX2A"}),
            "invalid-bic",
        ),
    ],
)
async def test_destinations_are_validated(
    bank: BankTransferHarness, destination: PayoutDestination | None, code: str
) -> None:
    payout = PayoutRequest("po_1", "seller-a", Money(100, "EUR"), destination)
    with pytest.raises(ProviderRejectedError) as raised:
        await bank.provider.payout(payout, idempotency_key="k1")
    assert raised.value.code == code
    assert await bank.provider.export_payout_batch() is None


async def test_payouts_in_eur_only(bank: BankTransferHarness) -> None:
    with pytest.raises(ProviderRejectedError) as raised:
        await bank.provider.payout(request(bank, currency="GBP"), idempotency_key="k1")
    assert raised.value.code == "currency-not-supported"


async def test_debit_line_pays_and_return_fails_the_payout(bank: BankTransferHarness) -> None:
    paid = await bank.provider.payout(request(bank), idempotency_key="k1")
    returned = await bank.provider.payout(request(bank, "po_2", 700), idempotency_key="k2")
    assert paid.psp_reference is not None
    assert returned.psp_reference is not None
    await bank.provider.export_payout_batch()
    statement = fake_bank.statement(
        PLATFORM_IBAN,
        [
            fake_bank.payout_debit(Money(12345, "EUR"), paid.psp_reference),
            fake_bank.payout_debit(Money(700, "EUR"), returned.psp_reference),
            fake_bank.payout_return(Money(700, "EUR"), returned.psp_reference, "AC04"),
        ],
    )
    from_upload = bank.provider.parse_webhook(bank.sign(statement), statement)
    events = await bank.provider.import_statement(statement)
    assert all(isinstance(e, PayoutEvent) for e in [*events, *from_upload])
    assert [(e.event_id, getattr(e, "status", None)) for e in events] == [
        (e.event_id, getattr(e, "status", None)) for e in from_upload
    ]
    reports = [
        (e.psp_reference, e.payout_id, e.status, e.failure_code)
        for e in events
        if isinstance(e, PayoutEvent)
    ]
    assert reports == [
        (paid.psp_reference, "po_1", PayoutStatus.PAID, None),
        (returned.psp_reference, "po_2", PayoutStatus.PAID, None),
        (returned.psp_reference, "po_2", PayoutStatus.FAILED, "account-closed"),
    ]
    again = await bank.provider.payout(request(bank, "po_2", 700), idempotency_key="k2")
    assert (again.status, again.failure_code) == (PayoutStatus.FAILED, "account-closed")


async def test_debit_of_another_amount_does_not_pay(bank: BankTransferHarness) -> None:
    payout = await bank.provider.payout(request(bank), idempotency_key="k1")
    assert payout.psp_reference is not None
    statement = fake_bank.statement(
        PLATFORM_IBAN, [fake_bank.payout_debit(Money(12344, "EUR"), payout.psp_reference)]
    )
    assert bank.provider.parse_webhook(bank.sign(statement), statement) == []
    assert await bank.provider.import_statement(statement) == []
    again = await bank.provider.payout(request(bank), idempotency_key="k1")
    assert again.status is PayoutStatus.PENDING


def test_return_reasons_map_to_codes() -> None:
    assert payout_failure_code(None) == "payout-returned"
    assert payout_failure_code("ac04") == "account-closed"
    assert payout_failure_code("XY99") == "payout-returned-xy99"
    assert all(code == code.lower() and " " not in code for code in RETURN_REASONS.values())
