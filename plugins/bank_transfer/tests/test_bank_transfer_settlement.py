"""camt.053 statements as settlement lines: types, references, signs, refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from paymux.core.ports.provider import CheckoutRequest, PayoutRequest
from paymux.core.reconciliation.errors import MalformedSettlementError, WrongFormatError
from paymux.core.reconciliation.lines import SettlementLine, frame_lines
from paymux.core.reconciliation.lines import SettlementLineType as T
from paymux.core.reconciliation.parsers import HEAD_BYTES, check_batch, choose_parser
from paymux.currencies import Money
from paymux_bank_transfer import fake_bank, plugin
from paymux_bank_transfer.harness import PLATFORM_IBAN, BankTransferHarness
from paymux_bank_transfer.settlement import Camt053SettlementParser

FIXTURE = Path(__file__).parent / "fixtures" / "camt053_statement.xml"
PARSER = Camt053SettlementParser()
PAYIN = "RF368X3P5B2S2FCX3ZYCV7Q9H"
PAYOUT_A = "PMXPOABCDEFGHJKMNW98QYM9P0S52A"
PAYOUT_B = "PMXPO0123456789AB3PC2WY3Q0T0TA"


def parse(path: Path) -> list[SettlementLine]:
    batches = [check_batch(batch, "bank_transfer") for batch in PARSER.parse(path)]
    return frame_lines(pl.concat(batches))


def write(tmp_path: Path, document: bytes) -> Path:
    path = tmp_path / "statement.xml"
    path.write_bytes(document)
    return path


def line(number: int, kind: T, psp: str, gross: int, net: int, **rest: object) -> SettlementLine:
    fields: dict[str, object] = {"booking_date": date(2024, 5, 2), **rest}
    return SettlementLine(
        provider="bank_transfer",
        line_number=number,
        type=kind,
        psp_reference=psp,
        gross_minor=gross,
        fee_minor=gross - net,
        net_minor=net,
        currency="EUR",
        **fields,  # type: ignore[arg-type]
    )


def test_the_fixture_becomes_exact_lines() -> None:
    assert parse(FIXTURE) == [
        line(1, T.CAPTURE, PAYIN, 12500, 12500, modification_reference="BK-0001",
             line_reference="BK-0001"),
        line(2, T.ADJUSTMENT, "INV-4711", 1000, 1000, modification_reference="BK-0002",
             line_reference="BK-0002"),
        line(3, T.PAYOUT, PAYOUT_A, -5000, -5000, modification_reference="BK-0003",
             merchant_reference="payout_0123456789abcdef01234567",
             line_reference=f"BK-0003/{PAYOUT_A}", payout_batch=PAYOUT_A),
        line(4, T.PAYOUT, PAYOUT_B, -3000, -3000, modification_reference="BK-0003",
             merchant_reference="payout_fedcba9876543210fedcba98",
             line_reference=f"BK-0003/{PAYOUT_B}", payout_batch=PAYOUT_B),
        line(5, T.FEE, "BK-0005", 0, -250, modification_reference="BK-0005",
             line_reference="BK-0005"),
        # 6 is pending: no line
        line(7, T.ADJUSTMENT, PAYOUT_A, 5000, 5000, modification_reference="BK-0007",
             line_reference="BK-0007"),
        line(8, T.ADJUSTMENT, PAYIN, -12500, -12500, booking_date=date(2024, 5, 3),
             modification_reference="BK-0008", line_reference="BK-0008"),
    ]  # fmt: skip


def test_the_parser_is_registered_by_the_plugin() -> None:
    (parser,) = plugin.paymux_add_settlement_parsers()
    assert isinstance(parser, Camt053SettlementParser)
    assert (parser.provider, parser.format) == ("bank_transfer", "camt.053")
    assert parser.settlement_delay == timedelta(days=1)


def test_accepts_camt_053_documents_only() -> None:
    assert PARSER.accepts(FIXTURE.read_bytes()[:HEAD_BYTES])
    assert PARSER.accepts(fake_bank.statement(PLATFORM_IBAN, []))
    v08 = b'\xef\xbb\xbf\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">'
    assert PARSER.accepts(v08)
    for head in (
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09">',
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.052.001.02">',
        b"Psp Reference,Type,urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\n",
        b"",
    ):
        assert not PARSER.accepts(head)


def test_a_csv_file_is_refused_as_the_wrong_format(tmp_path: Path) -> None:
    path = write(tmp_path, b"Psp Reference,Type,Batch Number\n")
    with pytest.raises(WrongFormatError):
        choose_parser([PARSER], "bank_transfer", path)
    assert choose_parser([PARSER], "bank_transfer", FIXTURE) is PARSER


@pytest.mark.parametrize(
    "document",
    [
        FIXTURE.read_bytes()[:2000],
        FIXTURE.read_bytes().replace(b"camt.053.001.02", b"camt.053.001.06"),
    ],
)
def test_a_document_that_cannot_be_read_is_an_error_of_the_whole_file(
    tmp_path: Path, document: bytes
) -> None:
    with pytest.raises(MalformedSettlementError) as caught:
        parse(write(tmp_path, document))
    assert caught.value.line_number == 0


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (b'<Amt Ccy="EUR">10.00</Amt>', b'<Amt Ccy="EUR">10.001</Amt>', "amount"),
        (b'<Amt Ccy="EUR">10.00</Amt>', b'<Amt Ccy="EURO">10.00</Amt>', "amount"),
        (
            b"<Sts>BOOK</Sts>\n        <BookgDt><Dt>2024-05-02</Dt></BookgDt>\n"
            b"        <AcctSvcrRef>BK-0002</AcctSvcrRef>",
            b"<Sts>BOOK</Sts>\n        <AcctSvcrRef>BK-0002</AcctSvcrRef>",
            "booking date",
        ),
    ],
)
def test_an_unreadable_booked_transaction_names_its_index(
    tmp_path: Path, old: bytes, new: bytes, message: str
) -> None:
    document = FIXTURE.read_bytes()
    assert document.count(old) == 1
    with pytest.raises(MalformedSettlementError, match=message) as caught:
        parse(write(tmp_path, document.replace(old, new)))
    assert caught.value.line_number == 2


def test_an_unreadable_entry_that_is_not_booked_is_no_line(tmp_path: Path) -> None:
    document = FIXTURE.read_bytes().replace(b"99.00", b"99.0.0")
    assert [x.line_number for x in parse(write(tmp_path, document))] == [1, 2, 3, 4, 5, 7, 8]


@pytest.fixture
async def bank() -> AsyncIterator[BankTransferHarness]:
    harness = BankTransferHarness()
    yield harness
    await harness.aclose()


async def test_lines_carry_the_references_the_provider_gave_paymux(
    bank: BankTransferHarness, tmp_path: Path
) -> None:
    registration = await bank.provider.register_checkout(
        CheckoutRequest(
            payment_id="pay_1",
            amount=Money(4250, "EUR"),
            country="DE",
            payment_method="bank_transfer",
            buyer_id="buyer-1",
            order_references=("order-1",),
            return_url="https://shop.example/thanks",
        ),
        idempotency_key="k1",
    )
    payout = await bank.provider.payout(
        PayoutRequest(
            payout_id="payout_00112233445566778899aabb",
            seller_id="seller-a",
            amount=Money(1999, "EUR"),
            destination=bank.payout_destination("seller-a"),
        ),
        idempotency_key="k2",
    )
    assert payout.psp_reference is not None
    day = date(2024, 5, 2)
    document = fake_bank.statement(
        PLATFORM_IBAN,
        [
            replace(fake_bank.credit(Money(4250, "EUR"), registration.token), booked_on=day),
            replace(
                fake_bank.payout_debit(Money(1999, "EUR"), payout.psp_reference),
                booked_on=day,
                remittance_text="Payout payout-00112233445566778899aabb",
            ),
        ],
    )
    capture, paid = parse(write(tmp_path, document))
    assert (capture.type, capture.psp_reference) == (T.CAPTURE, registration.psp_reference)
    assert (capture.gross_minor, capture.net_minor) == (4250, 4250)
    assert (paid.type, paid.psp_reference) == (T.PAYOUT, payout.psp_reference)
    assert paid.merchant_reference == "payout_00112233445566778899aabb"
    assert (paid.gross_minor, paid.net_minor, paid.payout_batch) == (
        -1999,
        -1999,
        paid.psp_reference,
    )
