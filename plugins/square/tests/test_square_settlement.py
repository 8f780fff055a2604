"""Square's payouts and payout entries are read into normalized settlement lines."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from paymux.core.plugins import create_plugin_manager
from paymux.core.reconciliation.errors import MalformedSettlementError
from paymux.core.reconciliation.lines import SettlementLine, SettlementLineType, frame_lines
from paymux.core.reconciliation.parsers import HEAD_BYTES, check_batch, choose_parser
from paymux_square import plugin
from paymux_square.settlement import SETTLEMENT_PARSER
from paymux_square.spec_validation import schema_errors

FIXTURE = Path(__file__).parent / "fixtures" / "payouts.json"
PAYOUT_1 = "po_7d1f0c2a-5b7e-4c11-9a0e-3f1d2c4b5a61"
PAYOUT_2 = "po_2c9e4b1d-8a3f-4e6b-b7c2-0d5e6f7a8b92"
PAYMENT_1 = "PmxPayment01kq3vT9aZ"
PAYMENT_2 = "PmxPayment02Lw8cR4bY"
DAY = date(2025, 3, 3)
T = SettlementLineType


def parse(path: Path) -> list[SettlementLine]:
    batches = [check_batch(batch, "square") for batch in SETTLEMENT_PARSER.parse(path)]
    return [line for batch in batches for line in frame_lines(batch)]


def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return loaded


def write(tmp_path: Path, content: object) -> Path:
    path = tmp_path / "payouts.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    return path


def line(
    number: int,
    type_: SettlementLineType,
    ref: str,
    gross: int,
    fee: int,
    net: int,
    *,
    line_reference: str,
    payout_batch: str = PAYOUT_1,
    modification_reference: str | None = None,
    booking_date: date = DAY,
) -> SettlementLine:
    return SettlementLine(
        provider="square",
        line_number=number,
        type=type_,
        psp_reference=ref,
        gross_minor=gross,
        fee_minor=fee,
        net_minor=net,
        currency="USD",
        booking_date=booking_date,
        modification_reference=modification_reference,
        line_reference=line_reference,
        payout_batch=payout_batch,
    )


def test_the_fixture_is_valid_per_squares_openapi_document() -> None:
    content = document()
    for payout in content["payouts"]:
        assert schema_errors("Payout", payout) == []
    for entry in content["payout_entries"]:
        assert schema_errors("PayoutEntry", entry) == []
    # The check is real: a string amount is refused.
    bad = {**content["payouts"][0], "amount_money": {"amount": "11031", "currency": "USD"}}
    assert schema_errors("Payout", bad) != []


def test_payouts_and_entries_give_exact_lines() -> None:
    march_4 = date(2025, 3, 4)
    assert parse(FIXTURE) == [
        line(1, T.PAYOUT, PAYOUT_1, -11031, 0, -11031, line_reference=PAYOUT_1,
             booking_date=march_4),
        # A withdrawal from the bank puts money into the Square balance.
        line(2, T.PAYOUT, PAYOUT_2, 350, 0, 350, line_reference=PAYOUT_2,
             payout_batch=PAYOUT_2, booking_date=march_4),
        line(3, T.CAPTURE, PAYMENT_1, 10000, 290, 9710, line_reference="poe_PmxCharge01"),
        # Square wrote this fee negative: the size is what counts, net decides.
        line(4, T.CAPTURE, PAYMENT_2, 2500, 103, 2397, line_reference="poe_PmxCharge02"),
        # The fee returned with the refund is a negative fee.
        line(5, T.REFUND, PAYMENT_1, -1000, -29, -971, line_reference="poe_PmxRefund01",
             modification_reference="PmxPayment01kq3vT9aZ_PmxRefund01Xy7"),
        line(6, T.FEE, PAYMENT_2, 0, 45, -45, line_reference="poe_PmxFee01"),
        line(7, T.FEE, PAYMENT_1, 0, 60, -60, line_reference="poe_PmxThirdPartyFee01"),
        line(8, T.CHARGEBACK, PAYMENT_2, -2500, 0, -2500, line_reference="poe_PmxOpenDispute01",
             modification_reference="PmxDispute01Qm2"),
        # Money given back on a dispute; 23:30 at UTC-8 is the 4th in UTC.
        line(9, T.CHARGEBACK_REVERSAL, PAYMENT_2, 2500, 0, 2500,
             line_reference="poe_PmxDispute01", modification_reference="PmxDispute01Qm2",
             booking_date=march_4),
        # No payment behind it: the entry's own id.
        line(10, T.ADJUSTMENT, "poe_PmxAdjustment01", -255, 0, -255,
             line_reference="poe_PmxAdjustment01", payout_batch=PAYOUT_2),
        line(11, T.FEE, "poe_PmxDepositFee01", 0, 95, -95, line_reference="poe_PmxDepositFee01",
             payout_batch=PAYOUT_2),
    ]  # fmt: skip


def test_each_payout_balances_with_its_entries() -> None:
    totals: dict[str | None, int] = {}
    for found in parse(FIXTURE):
        totals[found.payout_batch] = totals.get(found.payout_batch, 0) + found.net_minor
    assert totals == {PAYOUT_1: 0, PAYOUT_2: 0}


def test_the_plugin_offers_the_parser() -> None:
    manager = create_plugin_manager(autoload=False, plugins=[plugin])
    parsers = [p for found in manager.hook.paymux_add_settlement_parsers() for p in found]
    assert [p.format for p in parsers] == ["square_payouts_json"]
    assert parsers[0].settlement_delay == timedelta(days=2)
    assert choose_parser(parsers, "square", FIXTURE) is SETTLEMENT_PARSER


def test_a_document_longer_than_the_head_is_known_by_its_first_key() -> None:
    content = document()
    content["payouts"] = content["payouts"] * 400
    head = json.dumps(content, indent=2).encode()[:HEAD_BYTES]
    assert len(head) == HEAD_BYTES
    assert SETTLEMENT_PARSER.accepts(head)


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"\x00\xff",
        b"balance_transaction_id,currency,gross,fee,net,reporting_category,source_id\n",
        # Square's own answers, each alone.
        b'{"payouts": [], "cursor": "abc"}',
        b'{"payout_entries": []}',
        b'{"payouts": {}, "payout_entries": []}',
        b"[]",
        # Cut off, but not by the head's size.
        b'{"payouts": [{"id": "po_1"',
    ],
)
def test_other_files_are_refused(head: bytes) -> None:
    assert not SETTLEMENT_PARSER.accepts(head)


def entry_with(tmp_path: Path, index: int, **changes: object) -> Path:
    content = document()
    content["payout_entries"][index].update(changes)
    return write(tmp_path, content)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"gross_amount_money": {"amount": "100", "currency": "USD"}},
         "gross_amount_money.amount '100' is not an integer"),
        ({"gross_amount_money": {"amount": 100.0, "currency": "USD"}},
         "gross_amount_money.amount 100.0 is not an integer"),
        ({"net_amount_money": None}, "net_amount_money is missing"),
        ({"fee_amount_money": {"amount": 291, "currency": "USD"}},
         "fee_amount_money 291 does not match gross 10000 minus net 9710"),
        ({"net_amount_money": {"amount": 9710, "currency": "EUR"}}, "several currencies"),
        ({"gross_amount_money": {"amount": 1, "currency": "XYZ"}}, "gross_amount_money"),
        ({"effective_at": "yesterday"}, "effective_at 'yesterday' is not a timestamp"),
        ({"id": ""}, "id is missing"),
    ],
)  # fmt: skip
def test_a_bad_entry_names_its_line(tmp_path: Path, changes: dict[str, object],
                                    message: str) -> None:  # fmt: skip
    path = entry_with(tmp_path, 0, **changes)
    with pytest.raises(MalformedSettlementError) as raised:
        parse(path)
    # Two payouts come first: the first entry is line 3.
    assert raised.value.line_number == 3
    assert message in raised.value.reason


def test_a_bad_payout_names_its_line(tmp_path: Path) -> None:
    content = document()
    del content["payouts"][1]["amount_money"]
    with pytest.raises(MalformedSettlementError) as raised:
        parse(write(tmp_path, content))
    assert (raised.value.line_number, raised.value.reason) == (2, "amount_money is missing")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not a JSON document"),
        ([], "not a JSON object"),
        ({"payouts": []}, "missing list payout_entries"),
    ],
)
def test_a_bad_document_is_refused_as_a_whole(tmp_path: Path, content: object,
                                              message: str) -> None:  # fmt: skip
    path = tmp_path / "payouts.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(MalformedSettlementError) as raised:
        parse(path)
    assert raised.value.line_number == 0
    assert message in raised.value.reason


def test_squares_example_currency_code_is_read(tmp_path: Path) -> None:
    path = entry_with(
        tmp_path,
        0,
        gross_amount_money={"amount": 10000, "currency_code": "USD"},
        fee_amount_money={"amount": 290, "currency_code": "USD"},
        net_amount_money={"amount": 9710, "currency_code": "USD"},
    )
    assert parse(path)[2] == parse(FIXTURE)[2]


def test_a_jpy_entry_is_in_yen(tmp_path: Path) -> None:
    yen = {"currency": "JPY"}
    path = entry_with(
        tmp_path,
        0,
        gross_amount_money={"amount": 5000, **yen},
        fee_amount_money={"amount": 163, **yen},
        net_amount_money={"amount": 4837, **yen},
    )
    capture = parse(path)[2]
    assert (capture.currency, capture.gross_minor, capture.fee_minor) == ("JPY", 5000, 163)
