"""Stripe's itemized balance reports are read into normalized settlement lines."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from paymux.core.plugins import create_plugin_manager
from paymux.core.reconciliation.errors import MalformedSettlementError
from paymux.core.reconciliation.lines import SettlementLine, SettlementLineType, frame_lines
from paymux.core.reconciliation.parsers import check_batch, choose_parser
from paymux_stripe import plugin
from paymux_stripe.settlement import (
    BALANCE_REPORT,
    PAYOUT_RECONCILIATION_REPORT,
    StripeReportParser,
)

FIXTURES = Path(__file__).parent / "fixtures"
BALANCE = FIXTURES / "balance_change_from_activity.csv"
PAYOUT_RECONCILIATION = FIXTURES / "payout_reconciliation.csv"
DAY = date(2025, 3, 3)
T = SettlementLineType


def parse(parser: StripeReportParser, path: Path) -> list[SettlementLine]:
    batches = [check_batch(batch, "stripe") for batch in parser.parse(path)]
    return [line for batch in batches for line in frame_lines(batch)]


def line(
    number: int,
    type_: SettlementLineType,
    ref: str,
    gross: int,
    fee: int,
    net: int,
    *,
    currency: str = "EUR",
    settlement_currency: str | None = None,
    modification_reference: str | None = None,
    merchant_reference: str | None = None,
    line_reference: str | None = None,
    payout_batch: str | None = None,
) -> SettlementLine:
    return SettlementLine(
        provider="stripe",
        line_number=number,
        type=type_,
        psp_reference=ref,
        gross_minor=gross,
        fee_minor=fee,
        net_minor=net,
        currency=currency,
        booking_date=DAY,
        settlement_currency=settlement_currency,
        modification_reference=modification_reference,
        merchant_reference=merchant_reference,
        line_reference=line_reference,
        payout_batch=payout_batch,
    )


def rewrite(source: Path, target: Path, edit: dict[int, dict[str, str]] | None = None,
            order: list[str] | None = None, drop: str | None = None) -> Path:  # fmt: skip
    """``source`` with rows edited (by line number), columns reordered or one dropped."""
    rows = list(csv.DictReader(source.open(encoding="utf-8", newline="")))
    names = list(rows[0])
    for number, changes in (edit or {}).items():
        rows[number - 2].update(changes)
    names = order or [n for n in names if n != drop]
    out = io.StringIO()
    writer = csv.DictWriter(out, names, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    target.write_text(out.getvalue(), encoding="utf-8")
    return target


def test_the_balance_report_gives_exact_lines() -> None:
    assert parse(BALANCE_REPORT, BALANCE) == [
        line(2, T.CAPTURE, "pi_3PcA01", 12000, 205, 11795, modification_reference="ch_3PcA01",
             merchant_reference="pe_01HZCHARGE1", line_reference="txn_3PcA01charge",
             payout_batch="po_1PdPay01"),
        line(3, T.CAPTURE, "pi_3PcA02", 4990, 95, 4895, modification_reference="py_3PcA02",
             merchant_reference="pe_01HZCHARGE2", line_reference="txn_3PcA02charge",
             payout_batch="po_1PdPay01"),
        line(4, T.REFUND, "pi_3PcA01", -2000, 0, -2000, modification_reference="re_3PcA03",
             merchant_reference="pe_01HZCHARGE1", line_reference="txn_3PcA03refund",
             payout_batch="po_1PdPay01"),
        # No PaymentIntent in the row: the charge id.
        line(5, T.CHARGEBACK, "py_3PcA02", -4990, 1500, -6490, modification_reference="dp_1PcA04",
             line_reference="txn_3PcA04dispute", payout_batch="po_1PdPay01"),
        # A fee row becomes a pure fee line.
        line(6, T.FEE, "fee_1PcA05", 0, 250, -250, modification_reference="fee_1PcA05",
             line_reference="txn_1PcA05fee", payout_batch="po_1PdPay01"),
        # A Connect transfer is paymux's seller payout: a payout line with its payout id.
        line(7, T.PAYOUT, "tr_1PcA06", -9500, 0, -9500, modification_reference="tr_1PcA06",
             merchant_reference="po_01HZSELLER1", line_reference="txn_1PcA06transfer",
             payout_batch="po_1PdPay01"),
        # Presented in USD, settled in EUR: gross in USD, fee and net in EUR.
        line(8, T.CAPTURE, "pi_3PcA07", 10000, 277, 8963, currency="USD",
             settlement_currency="EUR", modification_reference="ch_3PcA07",
             merchant_reference="pe_01HZCHARGE3", line_reference="txn_3PcA07charge",
             payout_batch="po_1PdPay01"),
        line(9, T.PAYOUT, "po_1PcA08", -31000, 0, -31000, modification_reference="po_1PcA08",
             line_reference="txn_1PcA08payout", payout_batch="po_1PcA08"),
        line(10, T.ADJUSTMENT, "adj_1PcA09", 120, 0, 120, modification_reference="adj_1PcA09",
             line_reference="txn_1PcA09adjust", payout_batch="po_1PdPay01"),
        line(11, T.CHARGEBACK_REVERSAL, "pi_3PcA02", 4990, -1500, 6490,
             modification_reference="dp_1PcA04", line_reference="txn_1PcA10reversal",
             payout_batch="po_1PdPay01"),
    ]  # fmt: skip


def test_the_payout_reconciliation_report_gives_exact_lines() -> None:
    lines = parse(PAYOUT_RECONCILIATION_REPORT, PAYOUT_RECONCILIATION)
    assert [(x.line_number, x.type, x.psp_reference, x.gross_minor, x.fee_minor, x.net_minor,
             x.currency, x.merchant_reference, x.payout_batch, x.booking_date) for x in lines] == [
        (2, T.CAPTURE, "pi_3PcB01", 12000, 430, 11570, "JPY", "pe_01HZJPY1", "po_1PdPay01", DAY),
        # No PaymentIntent in the row: the charge the refund is of.
        (3, T.REFUND, "ch_3PcB01", -3000, 0, -3000, "JPY", None, "po_1PdPay01", date(2025, 3, 4)),
        (4, T.FEE, "fee_1PcB04", 0, 100, -100, "JPY", None, "po_1PdPay01", date(2025, 3, 4)),
    ]  # fmt: skip


def test_each_report_is_told_apart_by_its_header() -> None:
    balance_head = BALANCE.read_bytes()
    payout_head = PAYOUT_RECONCILIATION.read_bytes()
    assert BALANCE_REPORT.accepts(balance_head)
    assert not PAYOUT_RECONCILIATION_REPORT.accepts(balance_head)
    assert PAYOUT_RECONCILIATION_REPORT.accepts(payout_head)
    assert not BALANCE_REPORT.accepts(payout_head)
    # A byte-order mark and only the header line are enough.
    assert BALANCE_REPORT.accepts(b"\xef\xbb\xbf" + balance_head.split(b"\n")[0])


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"\x00\x01\x02\xff",
        b'{"payouts": [], "payout_entries": []}',
        b"Company Account,Merchant Account,Psp Reference,Merchant Reference,Type\n",
        # Stripe's columns but no date column.
        b"balance_transaction_id,currency,gross,fee,net,reporting_category,source_id\n",
        # The columns in a data row, not in the header.
        b"id,kind\nbalance_transaction_id,currency,gross,fee,net,reporting_category,source_id\n",
    ],
)
def test_other_files_are_refused(head: bytes) -> None:
    assert not BALANCE_REPORT.accepts(head)
    assert not PAYOUT_RECONCILIATION_REPORT.accepts(head)


def test_paymux_chooses_the_parser_of_each_report() -> None:
    manager = create_plugin_manager(autoload=False, plugins=[plugin])
    parsers = [p for found in manager.hook.paymux_add_settlement_parsers() for p in found]
    assert {p.format for p in parsers} == {
        "stripe_balance_change_from_activity.itemized.3",
        "stripe_payout_reconciliation.itemized.5",
    }
    assert all(p.settlement_delay == timedelta(days=3) for p in parsers)
    assert choose_parser(parsers, "stripe", BALANCE) is BALANCE_REPORT
    assert choose_parser(parsers, "stripe", PAYOUT_RECONCILIATION) is PAYOUT_RECONCILIATION_REPORT


def test_columns_are_found_by_name_in_any_order(tmp_path: Path) -> None:
    names = next(csv.reader(BALANCE.open(encoding="utf-8")))
    shuffled = rewrite(BALANCE, tmp_path / "shuffled.csv", order=names[::-1])
    assert parse(BALANCE_REPORT, shuffled) == parse(BALANCE_REPORT, BALANCE)


def test_optional_columns_may_be_missing(tmp_path: Path) -> None:
    names = ["balance_transaction_id", "created", "currency", "gross", "fee", "net",
             "reporting_category", "source_id"]  # fmt: skip
    minimal = rewrite(BALANCE, tmp_path / "minimal.csv", order=names)
    lines = parse(BALANCE_REPORT, minimal)
    # Local creation times: one row crosses midnight.
    assert [x.booking_date for x in lines].count(date(2025, 3, 4)) == 1
    capture = lines[0]
    assert (capture.psp_reference, capture.merchant_reference, capture.payout_batch) == (
        "ch_3PcA01",
        None,
        None,
    )
    # Without the customer-facing columns the USD charge stays in EUR.
    assert (lines[6].currency, lines[6].gross_minor, lines[6].settlement_currency) == (
        "EUR",
        9240,
        None,
    )


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("gross", "12.3x", "gross '12.3x'"),
        ("fee", "0.001", "fee '0.001'"),
        ("net", "", "net 0 is not gross 4990 minus fee 95"),
        ("currency", "", "currency is empty"),
        ("currency", "xxx", "'XXX' is not an ISO 4217 currency"),
        ("created_utc", "03/03/2025", "created '03/03/2025' is not a date"),
        ("reporting_category", "", "reporting_category is empty"),
        ("balance_transaction_id", "", "balance_transaction_id is empty"),
    ],
)
def test_a_bad_value_names_its_line(tmp_path: Path, column: str, value: str,
                                    message: str) -> None:  # fmt: skip
    bad = rewrite(BALANCE, tmp_path / "bad.csv", edit={3: {column: value}})
    with pytest.raises(MalformedSettlementError) as raised:
        parse(BALANCE_REPORT, bad)
    assert raised.value.line_number == 3
    assert message in raised.value.reason


@pytest.mark.parametrize("column", ["gross", "reporting_category", "balance_transaction_id"])
def test_a_missing_column_is_named(tmp_path: Path, column: str) -> None:
    bad = rewrite(BALANCE, tmp_path / "bad.csv", drop=column)
    with pytest.raises(MalformedSettlementError) as raised:
        list(BALANCE_REPORT.parse(bad))
    assert (raised.value.line_number, raised.value.reason) == (1, f"missing column {column}")


def test_amounts_are_exact_whatever_their_notation(tmp_path: Path) -> None:
    edited = rewrite(
        BALANCE,
        tmp_path / "amounts.csv",
        edit={
            # Stripe writes ISK (no decimals in ISO 4217) with two decimals.
            2: {
                "currency": "isk",
                "gross": "1200.00",
                "fee": "20.00",
                "net": "1180.00",
                "customer_facing_amount": "1200.00",
                "customer_facing_currency": "isk",
            },
            # A report run with decimal_separator=",".
            3: {"gross": "49,90", "fee": "0,95", "net": "48,95"},
        },
    )
    isk, comma = parse(BALANCE_REPORT, edited)[:2]
    assert (isk.currency, isk.gross_minor, isk.fee_minor, isk.net_minor) == ("ISK", 1200, 20, 1180)
    assert (comma.gross_minor, comma.fee_minor, comma.net_minor) == (4990, 95, 4895)


def test_an_isk_fraction_is_refused(tmp_path: Path) -> None:
    edited = rewrite(
        BALANCE,
        tmp_path / "isk.csv",
        edit={2: {"currency": "isk", "gross": "1200.00", "fee": "20.50", "net": "1179.50"}},
    )
    with pytest.raises(MalformedSettlementError) as raised:
        parse(BALANCE_REPORT, edited)
    assert raised.value.line_number == 2
    assert "fee '20.5'" in raised.value.reason


def test_a_header_only_report_has_no_lines(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text(BALANCE.read_text(encoding="utf-8").split("\n")[0] + "\n", encoding="utf-8")
    assert BALANCE_REPORT.accepts(empty.read_bytes())
    assert pl.concat([pl.DataFrame(), *BALANCE_REPORT.parse(empty)], how="diagonal").height == 0


def test_a_ragged_row_is_refused(tmp_path: Path) -> None:
    ragged = tmp_path / "ragged.csv"
    ragged.write_text(
        "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id\n"
        "txn_1,2025-03-03 00:00:00,eur,1.00,0.00,1.00,charge,ch_1,one too many\n",
        encoding="utf-8",
    )
    with pytest.raises(MalformedSettlementError, match="not a readable CSV file"):
        list(BALANCE_REPORT.parse(ragged))
